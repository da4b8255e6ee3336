// The storefront's static server: the files of DIR (the built page), and
// /config.json, which tells the page where the API and the OpenID provider
// are. No dependencies: Node's http alone. Listens on 127.0.0.1:PORT and
// prints "STOREFRONT=<origin>" once it does.
//   node serve.mjs DIR PORT '{"api": ..., "issuer": ..., ...}'
import { readFile } from "node:fs/promises";
import http from "node:http";
import { extname, join, normalize, sep } from "node:path";

const [dir, port, config] = process.argv.slice(2);
if (!dir || !port || !config) {
    console.error("usage: node serve.mjs DIR PORT CONFIG_JSON");
    process.exit(2);
}
JSON.parse(config);

const types = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
};
const root = normalize(dir + sep);

const server = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/config.json") {
        res.writeHead(200, { "content-type": types[".json"], "cache-control": "no-store" });
        res.end(config);
        return;
    }
    const file = normalize(join(root, path === "/" ? "index.html" : path));
    // Nothing outside DIR, however the path is spelt.
    if (!file.startsWith(root)) {
        res.writeHead(404).end();
        return;
    }
    try {
        const body = await readFile(file);
        res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
        res.end(body);
    } catch {
        res.writeHead(404).end();
    }
});

server.listen(Number(port), "127.0.0.1", () => {
    process.stdout.write(`STOREFRONT=http://127.0.0.1:${server.address().port}\n`);
});
