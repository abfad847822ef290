// Chromium comes from Debian (apt-get install chromium); puppeteer's own
// browser download cannot reach the network on our machines.
module.exports = { skipDownload: true };
