// The bibliography's list (role="list") holds entries with role="doc-biblioentry", a role
// ARIA 1.2 deprecated and that may not be a list's child (axe: aria-required-children,
// critical). Screen readers get list items instead.
document.addEventListener("DOMContentLoaded", () => {
  const entries = document.querySelectorAll('[role="list"] > [role="doc-biblioentry"]');
  for (const entry of entries) entry.setAttribute("role", "listitem");
});
