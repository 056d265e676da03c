// verify-email.js confirms an alternative address with the token of the mailed link, on click.
(function () {
  "use strict";
  var btn = document.getElementById("verify");
  if (!btn) return;
  var token = new URLSearchParams(location.search).get("token") || "";
  btn.addEventListener("click", function () {
    LS.busy(btn, async function () {
      var d = await LS.gql("mutation VerifyAlternativeEmail($token: String!) { verifyAlternativeEmail(token: $token) { email } }", { token: token });
      btn.remove();
      return d.verifyAlternativeEmail.email;
    }, function (email) { return email + " is confirmed."; });
  });
})();
