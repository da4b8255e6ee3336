// Loads the server's /docs page in headless Chromium and checks that it works
// as a reader sees it, with no internet: no request leaves 127.0.0.1 (any
// that tries is blocked and fails the check), none fails or answers >= 400,
// no script error, and every operation of openapi.yaml is on the page under
// its operationId, method and path. Saves a full-page screenshot.
//   node build/js/src/docs-check.js http://127.0.0.1:PORT OPENAPI.yaml SCREENSHOT.png
import { readFileSync } from "node:fs";
import { withChromium } from "./headless";
import { parse } from "yaml";

const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

interface Operation {
    operationId: string;
    tag: string;
    method: string;
    path: string;
}

function operationsOf(specFile: string): Operation[] {
    const spec = parse(readFileSync(specFile, "utf8"));
    const operations: Operation[] = [];
    for (const [path, item] of Object.entries<Record<string, { operationId?: string; tags?: string[] }>>(spec.paths)) {
        for (const method of methods.filter((m) => m in item)) {
            const { operationId, tags } = item[method];
            if (!operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
            operations.push({ operationId, tag: tags?.[0] ?? "default", method: method.toUpperCase(), path });
        }
    }
    return operations;
}

async function main(base: string, specFile: string, screenshot: string): Promise<string[]> {
    const expected = operationsOf(specFile);
    const problems: string[] = [];
    const local = (url: URL) => url.hostname === "127.0.0.1";
    await withChromium({ width: 1280, height: 900 }, async (context) => {
        // Blocked rather than only reported, so no traffic leaves the machine.
        await context.route((url) => !local(url), (route) => {
            problems.push(`request to another host (blocked): ${route.request().url()}`);
            return route.abort("blockedbyclient");
        });
        const page = context.pages()[0] ?? (await context.newPage());
        page.on("requestfailed", (request) => {
            if (local(new URL(request.url()))) {
                problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`);
            }
        });
        page.on("response", (response) => {
            if (response.status() >= 400) problems.push(`answered ${response.status()}: ${response.url()}`);
        });
        page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
        page.on("console", (message) => {
            if (message.type() === "error") problems.push(`console error: ${message.text()}`);
        });

        const answer = await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
        if (answer?.status() !== 200) problems.push(`GET /docs answered ${answer?.status()}`);
        await page.waitForSelector(".swagger-ui .opblock", { timeout: 15000 });

        // Swagger UI gives each operation's block the id operations-TAG-OPERATIONID.
        const shown = await page.$$eval(".opblock", (blocks) =>
            blocks.map((block) => ({
                id: block.id,
                method: block.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "",
                path:
                    block
                        .querySelector(".opblock-summary-path, .opblock-summary-path__deprecated")
                        ?.getAttribute("data-path") ?? "",
            })),
        );
        for (const operation of expected) {
            const block = shown.find((b) => b.id === `operations-${operation.tag}-${operation.operationId}`);
            if (!block) {
                problems.push(`operation not shown: ${operation.operationId} (${operation.method} ${operation.path})`);
            } else if (block.method !== operation.method || block.path !== operation.path) {
                problems.push(
                    `operation ${operation.operationId} shown as ${block.method} ${block.path}, ` +
                        `expected ${operation.method} ${operation.path}`,
                );
            }
        }
        if (shown.length !== expected.length) {
            problems.push(`${shown.length} operations shown, ${expected.length} in the spec`);
        }
        await page.screenshot({ path: screenshot, fullPage: true });
        console.log(`docs page: ${shown.length} operations shown, ${expected.length} in ${specFile}`);
    });
    return problems;
}

const [base, specFile, screenshot] = process.argv.slice(2);
if (!base || !specFile || !screenshot) {
    console.error("usage: node build/js/src/docs-check.js http://127.0.0.1:PORT OPENAPI.yaml SCREENSHOT.png");
    process.exit(2);
}
main(base, specFile, screenshot).then(
    (problems) => {
        if (problems.length > 0) {
            console.error(`docs page: FAILED\n  ${problems.join("\n  ")}`);
            process.exit(1);
        }
        console.log("docs page: loads offline, no failed request, every operation shown");
    },
    (error: unknown) => {
        console.error("docs page: FAILED", error);
        process.exit(1);
    },
);
