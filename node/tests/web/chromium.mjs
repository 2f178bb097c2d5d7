// Headless Chromium as the page's end-to-end test (e2e.mjs) and its benchmark (page_bench.mjs)
// start it: TIM_CHROMIUM, or Debian's /usr/bin/chromium.
import { chromium } from 'playwright-core';

export const executablePath = process.env.TIM_CHROMIUM || '/usr/bin/chromium';

// Starts the browser; a failure says where it looked and how to install it.
export async function launch() {
  try {
    return await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (e) {
    throw new Error(`could not start Chromium at ${executablePath} (apt-get install chromium): ${e.message}`);
  }
}
