import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The desktop app embeds ui/dist (src-tauri/tauri.conf.json, frontendDist).
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) handles ES2021.
    target: 'es2021',
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
