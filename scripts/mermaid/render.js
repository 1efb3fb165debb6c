// Renders each Mermaid file given on the command line with Mermaid's own
// renderer in headless Chromium, as GitHub does, and fails on the first
// diagram it cannot render.
const { chromium } = require('playwright-core');
const fs = require('fs');

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                          args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.setContent('<html><body></body></html>');
  await page.addScriptTag({ path: require.resolve('mermaid/dist/mermaid.min.js') });
  await page.evaluate(() => mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
  let failures = 0;
  for (const [index, file] of process.argv.slice(2).entries()) {
    const result = await page.evaluate(async ([id, text]) => {
      try {
        const { svg } = await mermaid.render(id, text);
        return { rendered: true, nodes: (svg.match(/class="node /g) || []).length };
      } catch (error) {
        return { rendered: false, error: String((error && error.message) || error) };
      }
    }, [`diagram${index}`, fs.readFileSync(file, 'utf8')]);
    if (result.rendered) {
      console.log(`${file}: rendered, ${result.nodes} nodes`);
    } else {
      failures++;
      console.log(`${file}: ${result.error}`);
    }
  }
  await browser.close();
  process.exit(failures ? 1 : 0);
})();
