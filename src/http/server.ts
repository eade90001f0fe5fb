import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { AppEnv } from "./context.js";
import type { TlsMaterial } from "./tls.js";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the app over HTTPS (or plain HTTP behind a TLS proxy, when `tls` is absent). */
export function startServer(
  app: Hono<AppEnv>,
  options: { host: string; port: number; tls?: TlsMaterial },
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname: options.host,
        port: options.port,
        ...(options.tls
          ? { createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } }
          : {}),
      },
      (info: AddressInfo) => {
        const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
        resolve({
          url: `${options.tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              // Keep-alive connections would hold close() open; end them once the listener stops.
              (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        });
      },
    );
    server.once("error", reject);
  });
}
