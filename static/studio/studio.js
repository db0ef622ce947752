/* Hector Studio: behaviour shared by every page (app switcher, confirmations, copy buttons). */
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.value || source.textContent);
        button.textContent = "Copied";
      } catch (error) {
        source.select && source.select();
        button.textContent = "Press Ctrl+C";
      }
    });
  });

  /* Fieldsets that only apply to some choices of a select: <fieldset data-shown-for="type:mcp,function">. */
  document.querySelectorAll("[data-shown-for]").forEach((block) => {
    const [name, values] = block.getAttribute("data-shown-for").split(":");
    const select = block.form ? block.form.elements[name] : document.querySelector(`[name="${name}"]`);
    if (!select) return;
    const allowed = values.split(",");
    const sync = () => {
      const show = allowed.includes(select.value) || block.querySelector(".has-error");
      block.hidden = !show;
    };
    select.addEventListener("change", sync);
    sync();
  });
})();
