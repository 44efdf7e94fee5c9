/**
 * The baseline for `deno task bench`: a bare Deno.serve that answers "hello".
 * Usage: deno run --allow-net --allow-env bench/hello.ts  (PORT, default 8001)
 */
const port = Number(Deno.env.get("PORT") ?? "8001");
Deno.serve(
  {
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`hello listening on ${port}`),
  },
  () => new Response("hello"),
);
