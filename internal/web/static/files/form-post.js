// form-post.js: the page of an answer in response_mode=form_post (OAuth 2.0 Form Post Response
// Mode) posts its form to the application's redirect URI as soon as it loads. Without script,
// the person presses the form's button.
(function () {
  "use strict";
  var form = document.getElementById("form-post");
  // The prototype's submit, in case a field of the form were named "submit".
  if (form) HTMLFormElement.prototype.submit.call(form);
})();
