// What a failed call means, in words a buyer can read: the service's
// problem details (RFC 9457) give a `title` and a `detail`; the page never
// shows a response body as it came.
import { FetchError, ProblemFromJSON, ResponseError } from "../build/client/index.js";

export interface Readable {
    title: string;
    detail: string;
}

export async function readable(error: unknown): Promise<Readable> {
    if (error instanceof ResponseError) {
        const response = error.response;
        const type = response.headers.get("content-type") ?? "";
        if (type.startsWith("application/problem+json")) {
            try {
                const problem = ProblemFromJSON(await response.json());
                return { title: problem.title, detail: problem.detail };
            } catch {
                // A body that does not parse: said below without showing it.
            }
        }
        return {
            title: "Unexpected answer",
            detail: `The ticket service answered ${response.status} ${response.statusText}.`.trim(),
        };
    }
    if (error instanceof FetchError) {
        // The browser gives scripts no reason (a CORS refusal looks the same
        // as a network failure); its console says which.
        return {
            title: "The ticket service cannot be reached",
            detail: "The request did not get through. Check the connection; if it persists, this site may not be allowed to call the service.",
        };
    }
    return { title: "Something went wrong", detail: error instanceof Error ? error.message : String(error) };
}
