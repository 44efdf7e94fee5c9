// Plain data, deliberately not typed as Quiz: lib/quiz/bank.ts validates it at start-up.
export default {
  id: "security",
  title: "Securing sessions",
  description:
    "Session fixation, CSRF, where session state lives, id rotation and storing ids safely.",
  questions: [
    {
      id: "fixation",
      text: "What is a session fixation attack?",
      choices: [
        "The attacker plants a session id it knows in the victim's browser, then waits for the victim to log in",
        "The server never expires sessions, so an id stolen long ago still works",
        "The attacker ties the victim's session to the attacker's own IP address",
        "The attacker edits session data kept in a cookie that is not signed",
      ],
      correct: 0,
      explanation:
        "If the id stays the same across login, the attacker's copy becomes a logged-in session. Planting the id can be done through a link, a sibling subdomain or a plain-http response.",
    },
    {
      id: "rotate-on-login",
      text: "What is the main defence against session fixation?",
      choices: [
        "Putting the session id in the URL instead of in a cookie",
        "Marking the session cookie HttpOnly so scripts cannot read it",
        "Issuing a new session id at login and deleting the old one",
        "Making the idle timeout longer so users log in less often",
      ],
      correct: 2,
      explanation:
        "Rotation makes a planted id worthless at the very moment it would become valuable. HttpOnly stops scripts from reading the cookie, not an attacker from setting it beforehand.",
    },
    {
      id: "csrf",
      text: "What does a cross-site request forgery (CSRF) attack rely on?",
      choices: [
        "Reading the victim's session cookie from a page on the attacker's site",
        "The browser adding the victim's cookies to a request the attacker's page sends",
        "Guessing the victim's password through many rapid login attempts",
        "Injecting a script of its own into one of the victim site's pages",
      ],
      correct: 1,
      explanation:
        "The attacker never sees the cookie or the response; it only needs the browser to send an authenticated, state-changing request. Injecting script is XSS, which defeats CSRF defences altogether.",
    },
    {
      id: "sec-fetch-site",
      text:
        "A POST arrives with Sec-Fetch-Site: cross-site. What may the server conclude?",
      choices: [
        "The user typed the URL into the address bar, so it is safe to serve",
        "It is a CORS preflight, which must be answered before the real POST",
        "It arrived over a different TLS connection than the page that made it",
        "A page on another site started it, so a state-changing endpoint may refuse it",
      ],
      correct: 3,
      explanation:
        "The browser sets Sec-Fetch-Site to same-origin, same-site, cross-site or none, and page scripts cannot forge it; a typed URL gives none. Refusing cross-site unsafe requests is a simple and robust CSRF defence.",
    },
    {
      id: "origin-check",
      text:
        "An older browser sends no Sec-Fetch-Site header. Which request header can the server compare with its own origin to spot a cross-site form POST?",
      choices: ["Host", "Origin", "X-Forwarded-Host"],
      correct: 1,
      explanation:
        "Browsers send Origin on POST requests, naming the origin of the page that made them; if it is present and not the site's own, refuse. Host names the target of the request, not where it came from.",
    },
    {
      id: "samesite-limits",
      text:
        "Why is a SameSite=Lax session cookie not a complete CSRF defence on its own?",
      choices: [
        "Lax cookies are never sent with POST requests, not even same-site ones",
        "Browsers ignore the SameSite attribute on connections that use HTTP/2",
        "Sibling subdomains count as same-site, and top-level GETs from anywhere still carry it",
        "Any other site can read a Lax cookie through document.cookie",
      ],
      correct: 2,
      explanation:
        "Same-site means the same registrable domain, so a compromised or user-content host such as evil.example.com can still post to app.example.com with the cookie attached. And Lax deliberately sends the cookie on top-level GET navigations, so GET requests must never change state.",
    },
    {
      id: "cookie-side-state",
      text:
        "Compared with a server-side session (the cookie only holds a random id), what is a real drawback of keeping the session state in a signed, encrypted cookie?",
      choices: [
        "Anyone who intercepts the cookie can read the session data inside it",
        "Every request needs a database lookup to decode the session",
        "Browsers refuse to store cookies whose value is encrypted binary data",
        "It cannot be revoked: each copy stays valid until it expires, and old ones can be replayed",
      ],
      correct: 3,
      explanation:
        "A self-contained cookie is valid wherever its signature verifies, so logout cannot kill copies already issued without extra server-side state. A server-side session is deleted in one place and is gone for everyone.",
    },
    {
      id: "hash-at-rest",
      text:
        "Why store the SHA-256 hash of each session id rather than the id itself?",
      choices: [
        "Hashing makes the id shorter, which saves space in the store",
        "A leaked database, backup or log then yields no working session cookies",
        "The id can then be recovered from the hash if the user loses the cookie",
        "The browser sends the hash of the id, so that is what the server sees",
      ],
      correct: 1,
      explanation:
        "The store only needs to look sessions up, and a hash cannot be turned back into a cookie. A fast, unsalted hash suffices because a random id, unlike a password, has far too much entropy to brute-force.",
    },
    {
      id: "two-timeouts",
      text: "Why give sessions both an idle timeout and an absolute timeout?",
      choices: [
        "Idle ends abandoned sessions soon; absolute caps how long constant use keeps a stolen id alive",
        "Browsers require both before they will store a session cookie",
        "The idle timeout is enforced by the browser, the absolute one by the server",
        "The absolute timeout applies to anonymous visitors, the idle one to users",
      ],
      correct: 0,
      explanation:
        "A session renewed on every request could otherwise live forever. The absolute limit forces a fresh login after a fixed time, as OWASP's session management guidance recommends.",
    },
    {
      id: "unknown-id",
      text:
        "A request carries a well-formed session id that the server never issued, or that has expired. What should the server do?",
      choices: [
        "Create a session under that id so the user is not logged out",
        "Answer 500 Internal Server Error",
        "Redirect to the login page and keep the id",
        "Ignore it and issue a brand-new random id",
      ],
      correct: 3,
      explanation:
        "Adopting ids chosen by the client lets an attacker fix one in advance. A strict server only accepts ids it generated itself and still holds.",
    },
  ],
};
