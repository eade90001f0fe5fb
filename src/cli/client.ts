import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Agent, fetch } from "undici";

/** What `kubernease login` saves: where the platform is, the CA to trust, and the key. */
export interface ClientConfig {
  server: string;
  key: string;
  /** PEM of the CA that signed the server's certificate, when it is not a public one. */
  ca?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.KUBERNEASE_CONFIG ?? join(homedir(), ".kubernease", "config.json");
}

export async function saveConfig(config: ClientConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

export async function loadConfig(path = configPath()): Promise<ClientConfig> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as ClientConfig;
  } catch {
    throw new Error(`not logged in: run \`kubernease login --server URL --ca CA.crt --key KEY\` (config: ${path})`);
  }
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** A small HTTPS client for the API, trusting the saved CA. */
export class ApiClient {
  private readonly dispatcher: Agent;

  constructor(private readonly config: ClientConfig) {
    this.dispatcher = new Agent({ connect: config.ca ? { ca: config.ca } : {} });
  }

  async request(method: string, path: string, body?: string, contentType = "application/json"): Promise<ApiResponse> {
    const response = await fetch(new URL(path, this.config.server), {
      method,
      dispatcher: this.dispatcher,
      headers: {
        authorization: `Bearer ${this.config.key}`,
        accept: "application/json",
        ...(body !== undefined ? { "content-type": contentType } : {}),
      },
      body,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed };
  }

  /** Like `request`, but an error status becomes an exception carrying the API's message. */
  async call(method: string, path: string, body?: string, contentType?: string): Promise<unknown> {
    const response = await this.request(method, path, body, contentType);
    if (response.status >= 400) {
      const error = (response.body as { error?: { message?: string } })?.error;
      throw new Error(`${response.status}: ${error?.message ?? JSON.stringify(response.body)}`);
    }
    return response.body;
  }

  /** A GET whose text answer is handed to `write` as it arrives (a followed log); an error status throws. */
  async stream(path: string, write: (text: string) => void): Promise<void> {
    const response = await fetch(new URL(path, this.config.server), {
      dispatcher: this.dispatcher,
      headers: { authorization: `Bearer ${this.config.key}` },
    });
    if (response.status >= 400 || !response.body) {
      const text = await response.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // Not JSON: keep the text.
      }
      throw new Error(`${response.status}: ${message}`);
    }
    const decoder = new TextDecoder();
    for await (const chunk of response.body) write(decoder.decode(chunk, { stream: true }));
    write(decoder.decode());
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
