#!/usr/bin/env bash
# Installs the system packages the course uses, where apt-get is available:
#   graphviz              -> `dot`, which draws the computation graphs (chapter 1)
#   dataset-fashion-mnist -> the full Fashion-MNIST, used when downloads are impossible
# Elsewhere it only says what is missing (macOS: `brew install graphviz`).
set -u
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
  echo "system_deps: installing ${need[*]}"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null || {
    echo "system_deps: apt-get failed; install ${need[*]} by hand" >&2; exit 1; }
else
  echo "system_deps: please install ${need[*]} (graphviz is required; the dataset is optional)" >&2
  command -v dot >/dev/null 2>&1 || exit 1
fi
