// Plain data, deliberately not typed as Quiz: lib/quiz/bank.ts validates it at start-up.
export default {
  id: "http",
  title: "HTTP requests and headers",
  description:
    "Methods, status codes, caching and the headers that every request and response carries.",
  questions: [
    {
      id: "safe-methods",
      text:
        "Which of these methods does HTTP define as safe, i.e. the client asks for no change of state on the server?",
      choices: ["POST", "PUT", "GET", "DELETE", "PATCH"],
      correct: 2,
      explanation:
        "GET, HEAD, OPTIONS and TRACE are the safe methods (RFC 9110 §9.2.1). PUT and DELETE are idempotent but not safe, and POST and PATCH are neither.",
    },
    {
      id: "idempotent-not-safe",
      text: "Which method is idempotent but not safe?",
      choices: ["POST", "PUT", "HEAD", "PATCH"],
      correct: 1,
      explanation:
        "Sending the same PUT twice leaves the resource as one PUT would, so a client may retry it, but it does change state. HEAD is both safe and idempotent; POST and PATCH are not guaranteed to be idempotent.",
    },
    {
      id: "host-header",
      text: "Which request header must every HTTP/1.1 request carry?",
      choices: ["Host", "User-Agent", "Accept", "Connection"],
      correct: 0,
      explanation:
        "A server must answer 400 to an HTTP/1.1 request without Host (RFC 9112 §3.2); it is what lets one IP address serve many sites. HTTP/2 and HTTP/3 carry it as the :authority pseudo-header.",
    },
    {
      id: "post-redirect-get",
      text:
        "A form POST succeeded. Which status tells the browser to fetch the Location with a GET, so that reloading the result page does not resubmit the form?",
      choices: [
        "307 Temporary Redirect",
        "308 Permanent Redirect",
        "200 OK with a Refresh header",
        "303 See Other",
      ],
      correct: 3,
      explanation:
        "303 means “retrieve this other resource with GET”, which is the post/redirect/get pattern. 307 and 308 require the client to repeat the same method and body.",
    },
    {
      id: "etag-revalidation",
      text:
        'A browser holds a cached response that came with ETag: "v7". How does it revalidate, and what comes back if nothing changed?',
      choices: [
        'It sends If-Match: "v7"; if unchanged, it gets 200 with the same body',
        'It sends If-None-Match: "v7"; if unchanged, it gets 304 with no body',
        'It sends ETag: "v7" back; if unchanged, it gets 204 No Content',
        "It sends Cache-Control: no-cache; if unchanged, it gets 412 Precondition Failed",
      ],
      correct: 1,
      explanation:
        "If-None-Match carries the cached validator; when it still matches, the server answers 304 without a body and the browser reuses its copy. If-Match is for safe updates: it makes a write fail with 412 when someone else changed the resource first.",
    },
    {
      id: "content-type-accept",
      text:
        "A client POSTs a JSON body and wants JSON back. Which headers say so?",
      choices: [
        "Content-Type: application/json on the request, Accept: application/json for the answer",
        "Accept: application/json on the request, Content-Type: application/json for the answer",
        "Content-Encoding: json, which covers both directions at once",
        "Content-Type: application/json only, since servers answer in the type they were sent",
      ],
      correct: 0,
      explanation:
        "Content-Type describes the body of the message it is on; Accept lists the media types the client is willing to receive. Content-Encoding is about compression such as gzip or br, not the media type.",
    },
    {
      id: "status-401-403",
      text: "What distinguishes 401 Unauthorized from 403 Forbidden?",
      choices: [
        "401 is meant for HTML pages shown to people, 403 for JSON APIs",
        "401 means the resource never existed, 403 that it existed but was deleted",
        "They mean the same; 403 is the newer code that replaced 401",
        "401 asks for (better) credentials via WWW-Authenticate; 403 refuses whoever is asking",
      ],
      correct: 3,
      explanation:
        "A 401 response must include WWW-Authenticate and invites the client to (re)authenticate. With 403, authenticating again will not help: the request is understood and refused.",
    },
    {
      id: "head-method",
      text: "What should a server send in answer to a HEAD request?",
      choices: [
        "Only the status line, with no headers and no body",
        "The status and headers a GET would get, without the body",
        "The body of the resource, without any headers",
        "405 Method Not Allowed, unless the resource changed since the last GET",
      ],
      correct: 1,
      explanation:
        "HEAD is GET without the body: it lets a client look at Content-Length, Last-Modified or ETag without downloading the content.",
    },
    {
      id: "vary-header",
      text:
        "A server picks the page's language from Accept-Language. Which response header lets shared caches keep storing the page without handing the French version to a reader who asked for English?",
      choices: [
        "Content-Language: fr",
        "Cache-Control: private",
        "Vary: Accept-Language",
        "Accept-Ranges: none",
      ],
      correct: 2,
      explanation:
        "Vary names the request headers that chose the representation, so a cache must match them too before reusing a stored response. Cache-Control: private would avoid the mix-up only by keeping shared caches out altogether.",
    },
    {
      id: "cors-preflight",
      text:
        "A page calls fetch() on another origin with method POST and Content-Type: application/json. What does the browser send first?",
      choices: [
        "A HEAD request to the same URL, to check that the resource exists",
        "Nothing extra: it sends the POST and checks the CORS headers of the response",
        "A GET request with Origin: null, to learn the server's CORS policy",
        "An OPTIONS preflight asking whether POST and that Content-Type are allowed",
      ],
      correct: 3,
      explanation:
        "application/json is not one of the three “simple” content types (form-urlencoded, multipart/form-data, text/plain), so the browser asks permission with an OPTIONS preflight and sends the POST only if the answer allows it.",
    },
  ],
};
