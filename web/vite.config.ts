import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig, type Plugin } from "vite";

// Every text file of the build gets a brotli (.br) and a gzip (.gz) copy beside it, which the
// platform serves to browsers that accept them (services/edge/src/web.rs): compressed once, here.
function precompress(): Plugin {
  const compressible = /\.(html|js|mjs|css|svg|json|txt)$/;
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: "spot-precompress",
    apply: "build",
    closeBundle() {
      const outDir = fileURLToPath(new URL("dist/", import.meta.url));
      for (const file of walk(outDir).filter((f) => compressible.test(f))) {
        const body = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

// The SDK is used straight from its sources (a path alias), so web/ builds from a fresh clone with
// only its own node_modules; dedupe makes the SDK's imports resolve to web's copy of protobuf-es.
export default defineConfig({
  plugins: [react(), tailwindcss(), precompress()],
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
