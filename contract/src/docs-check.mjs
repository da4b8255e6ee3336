// Loads the server's /docs page in headless Chromium and checks that it
// works with no internet: no request leaves 127.0.0.1, none fails, and every
// operation of openapi.yaml is on the page. Saves a screenshot for the README.
// Playwright starts the browser with a new, empty profile each time.
//   node src/docs-check.mjs http://127.0.0.1:PORT SCREENSHOT.png
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
const problems = [];
const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ],
});
try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("request", (request) => {
        const url = new URL(request.url());
        if (url.protocol !== "data:" && url.hostname !== "127.0.0.1") {
            problems.push(`request to another host: ${request.url()}`);
        }
    });
    page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
    page.on("response", (response) => {
        if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
    });
    page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));

    await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
    await page.waitForSelector(".opblock", { timeout: 15000 });

    const spec = await (await fetch(`${base}/openapi.json`)).json();
    const expected = Object.entries(spec.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    const shown = await page.$$eval(".opblock", (blocks) => blocks.map((block) => {
        const method = block.querySelector(".opblock-summary-method")?.textContent?.trim();
        // A deprecated operation's path has a class of its own.
        const path = block
            .querySelector(".opblock-summary-path, .opblock-summary-path__deprecated")
            ?.getAttribute("data-path");
        return `${method} ${path}`;
    }));
    for (const operation of expected) {
        if (!shown.includes(operation)) problems.push(`operation not shown: ${operation}`);
    }
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`docs page: ${shown.length} operations shown, ${expected.length} in the spec`);
} finally {
    await browser.close();
}
if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
}
console.log("docs page: loads offline with no failed request and shows every operation");
