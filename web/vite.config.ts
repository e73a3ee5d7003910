import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";

// The SDK is used straight from its sources (a path alias), so web/ builds from a fresh clone with
// only its own node_modules; dedupe makes the SDK's imports resolve to web's copy of protobuf-es.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: {
    alias: [
      { find: /^@spot-optimizer\/sdk\/gen\/(.*)$/, replacement: fileURLToPath(new URL("../sdk/typescript/src/gen/", import.meta.url)) + "$1" },
      { find: /^@spot-optimizer\/sdk$/, replacement: fileURLToPath(new URL("../sdk/typescript/src/index.ts", import.meta.url)) },
    ],
    dedupe: ["@bufbuild/protobuf"],
  },
  server: { fs: { allow: [".."] } },
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 1500 },
});
