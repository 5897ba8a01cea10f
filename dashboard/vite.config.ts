// Built into $DASHBOARD_OUT (scripts/build-dashboard.sh sets it: <build dir>/dashboard), which
// proximadb-server serves at /dashboard/ ([server] dashboard_dir).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: process.env.DASHBOARD_OUT ?? "../build/dashboard",
    emptyOutDir: true,
  },
  test: {
    include: ["test/**/*.test.ts"],
  },
});
