// Plain data, deliberately not typed as Quiz: lib/quiz/bank.ts validates it at start-up.
export default {
  id: "cookies",
  title: "Cookies and sessions",
  description:
    "Set-Cookie attributes, cookie lifetimes, prefixes and what makes a good session id.",
  questions: [
    {
      id: "max-age-vs-expires",
      text:
        "A response says Set-Cookie: id=1; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Max-Age=60. When does the browser drop the cookie?",
      choices: [
        "On 1 January 2031, because an absolute date is more precise",
        "After 60 seconds, because Max-Age takes precedence over Expires",
        "When the browser closes, because the two attributes contradict each other",
        "Never: the header is invalid and the cookie is not stored at all",
      ],
      correct: 1,
      explanation:
        "When both are present, Max-Age wins (RFC 6265 §5.3). Being relative, it also does not depend on the client's clock agreeing with the server's.",
    },
    {
      id: "no-lifetime",
      text:
        "How long is a cookie kept when its Set-Cookie has neither Max-Age nor Expires?",
      choices: [
        "For 24 hours, the default lifetime",
        "Until the user clears cookies by hand",
        "Until the current browsing session ends",
        "Only until the next response from that server",
      ],
      correct: 2,
      explanation:
        "Without an expiry it is a session cookie, dropped when the browser session ends. Browsers that restore tabs on restart may keep such cookies alive much longer, so do not rely on it for security.",
    },
    {
      id: "delete-cookie",
      text: "How does a server delete a cookie it set earlier?",
      choices: [
        "A Delete-Cookie header naming the cookie and its Path",
        "Set-Cookie with the same name, Path and Domain, and Max-Age=0",
        "Set-Cookie with the same name and an empty value, and no other attributes",
        "Nothing: the browser drops a cookie once a response stops mentioning it",
      ],
      correct: 1,
      explanation:
        "A new cookie replaces the old one only when name, domain and path all match, and an expiry in the past removes it at once. An empty value without an expiry just stores an empty cookie.",
    },
    {
      id: "httponly",
      text: "What does the HttpOnly attribute do?",
      choices: [
        "Hides the cookie from document.cookie and other script APIs",
        "Sends the cookie over plain http:// only, never over https://",
        "Stops the cookie from being sent on requests started by other sites",
        "Makes the browser encrypt the cookie while it is stored on disk",
      ],
      correct: 0,
      explanation:
        "HttpOnly cookies still travel with every matching request but are invisible to JavaScript. That stops an XSS payload from stealing the session id, though the script can still send requests that carry it.",
    },
    {
      id: "samesite-lax",
      text:
        "With SameSite=Lax, when does the browser send the cookie on a request started from another site?",
      choices: [
        "Never: Lax withholds it from every request another site starts",
        "Only on cross-site form POSTs, which Lax exists to allow",
        "On top-level GET navigations, such as following a link, only",
        "Always: Lax only restricts cookies that JavaScript created",
      ],
      correct: 2,
      explanation:
        "Lax lets a user arrive already logged in through a link from elsewhere, while cross-site subresource requests and form POSTs go out without the cookie. Strict would withhold it even on the link.",
    },
    {
      id: "samesite-none",
      text: "What must accompany SameSite=None for the cookie to be accepted?",
      choices: [
        "The HttpOnly attribute",
        "A Domain attribute",
        "Nothing: None is what every browser assumes anyway",
        "The Secure attribute",
      ],
      correct: 3,
      explanation:
        "RFC 6265bis and browsers such as Chrome ignore a SameSite=None cookie that lacks Secure. Nor is None a universal default: Chromium treats a cookie without SameSite as Lax.",
    },
    {
      id: "host-only",
      text:
        "app.example.com sets a cookie without a Domain attribute. Where will the browser send it?",
      choices: [
        "To example.com and all of its subdomains",
        "To app.example.com and its subdomains, such as api.app.example.com",
        "Only to app.example.com itself",
        "To any site, once the user has visited app.example.com",
      ],
      correct: 2,
      explanation:
        "Without Domain the cookie is host-only. Adding Domain=example.com would widen it to example.com and every subdomain; the attribute can never narrow the scope.",
    },
    {
      id: "path-scope",
      text: "A cookie is set with Path=/admin. What does that guarantee?",
      choices: [
        "Only scripts on pages under /admin can read it through document.cookie",
        "Only requests under /admin carry it, but other pages of the origin can still get at it",
        "Pages outside /admin receive an encrypted copy of it instead of the value",
        "Requests to /admin on any domain carry it, not only those to the setting host",
      ],
      correct: 1,
      explanation:
        "Path only decides which requests carry the cookie. It is not a security boundary: a page elsewhere on the same origin can, for example, open /admin in an iframe and read document.cookie there (RFC 6265 §8.5).",
    },
    {
      id: "host-prefix",
      text: "When does a browser accept a cookie named __Host-sessionId?",
      choices: [
        "It must be HttpOnly and SameSite=Strict, nothing else",
        "The request's Host header must match the name after the prefix",
        "Its Domain attribute must name the current host exactly",
        "It must be Secure, set from https, with Path=/ and no Domain",
        "Always: the prefix is a naming convention browsers ignore",
      ],
      correct: 3,
      explanation:
        "The __Host- prefix makes the browser enforce those rules, which pins the cookie to exactly one host and the whole site. A sibling subdomain or a plain-http page then cannot plant or overwrite it.",
    },
    {
      id: "uuid-session-id",
      text:
        "Why is crypto.randomUUID() acceptable as a session id, while a counter or Date.now() is not?",
      choices: [
        "UUIDs are unique across all servers, and that uniqueness keeps them secret",
        "Browsers sign cookies that hold UUIDs, so they cannot be altered or forged",
        "A v4 UUID holds 122 bits from a secure random generator, so it cannot be guessed",
        "UUIDs are shorter than timestamps, so they fit within the cookie size limit",
      ],
      correct: 2,
      explanation:
        "A session id is a bearer credential, so what matters is unpredictability. Uniqueness alone is not enough: counters and time-based ids are unique yet trivial to guess.",
    },
  ],
};
