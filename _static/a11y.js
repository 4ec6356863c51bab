// Accessibility (issue 24): pydata-sphinx-theme makes a code or output box that scrolls
// keyboard-focusable (tabindex="0", so arrow keys can scroll it) when the page loads, when
// the window resizes and when elements are added to the page. A box inside a folded
// <details> (a hidden cell) or a folded dropdown (a solution) measures zero wide then, and
// kept tabindex="-1" after the reader unfolded it (axe: scrollable-region-focusable).
// Unfolding anything now asks the theme to measure again, through its resize handler.
(() => {
  const remeasure = () => window.dispatchEvent(new Event("resize"));
  // <details> fires "toggle", which does not bubble: listen in the capture phase
  document.addEventListener("toggle", remeasure, true);
  // sphinx-togglebutton folds admonitions with a class, on a click on their title
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest(".toggle > .admonition-title")) {
      setTimeout(remeasure, 0);
    }
  });
})();
