"use strict";
// Dev mode only: remember the dev identity in two cookies the console (and its API calls) read.
document.getElementById("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const set = (name, value) => {
    document.cookie = `${name}=${encodeURIComponent(value)}; path=/api; SameSite=Strict`;
  };
  set("ep_dev_user", document.getElementById("user").value.trim());
  set("ep_dev_roles", document.getElementById("roles").value.trim());
  window.location.assign("/api/console");
});
