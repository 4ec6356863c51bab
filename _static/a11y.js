// Accessibility (issue 24): pydata-sphinx-theme makes a code or output box that scrolls
// keyboard-focusable (tabindex="0", so arrow keys can scroll it) when the page loads, when
// the window resizes and when elements are added to the page, each time 300 ms after the last
// such event. A box inside a folded <details> (a hidden cell) or a folded dropdown (a
// solution) measures zero wide then, and kept tabindex="-1" after the reader unfolded it
// (axe: scrollable-region-focusable); on a long page MathJax keeps adding elements, which
// postpones the theme's debounced re-measure further. Unfolding anything now measures the
// boxes inside what was unfolded at once, with the theme's own rule.
(() => {
  // the theme's selectors (addTabStopsToScrollableElements in pydata-sphinx-theme.js)
  const SCROLLABLE = [
    "pre",
    ".nboutput > .output_area",
    ".cell_output > .output",
    ".jp-RenderedHTMLCommon",
    ".pst-scrollable-table-container",
  ].join(", ");
  const measure = (root) => {
    root.querySelectorAll(SCROLLABLE).forEach((el) => {
      const scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      el.tabIndex = scrolls ? 0 : -1;
    });
  };
  // after the browser has laid out what was unfolded
  const measureSoon = (root) => requestAnimationFrame(() => measure(root));
  // <details> fires "toggle", which does not bubble: listen in the capture phase
  document.addEventListener(
    "toggle",
    (event) => {
      if (event.target instanceof Element && event.target.open) measureSoon(event.target);
    },
    true,
  );
  // sphinx-togglebutton folds admonitions with a class, on a click on their title
  document.addEventListener("click", (event) => {
    const title = event.target instanceof Element && event.target.closest(".toggle > .admonition-title");
    if (title) setTimeout(() => measureSoon(title.parentElement), 0);
  });
})();
