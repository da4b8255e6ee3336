// Debian's Chromium, headless, for the checks that load pages in a browser
// (docs-check.ts, storefront-check.ts), through playwright-core.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";

// Runs `use` in a browser with a profile of its own (nothing cached or
// remembered from before), closed and removed afterwards.
export async function withChromium<T>(
    viewport: { width: number; height: number },
    use: (context: BrowserContext) => Promise<T>,
): Promise<T> {
    const profile = mkdtempSync(join(tmpdir(), "headless-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            // The browser itself still looks up Google's update and account
            // hosts despite the flags above: it resolves no name but 127.0.0.1,
            // so it sends no DNS query and opens no connection off the machine.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ],
        viewport,
    });
    try {
        return await use(context);
    } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
    }
}
