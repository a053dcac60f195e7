// The chat widget as a visitor uses it, for the scenarios. Playwright's
// locators reach into the widget's open shadow root; elements are found by
// their data-testid (bot/web/widget.js).
'use strict';

class Widget {
  constructor(page) {
    this.page = page;
  }

  byId(id) {
    return this.page.getByTestId(id);
  }
  get launcher() {
    return this.byId('launcher');
  }
  get panel() {
    return this.byId('panel');
  }
  get input() {
    return this.byId('input');
  }
  get banner() {
    return this.byId('banner');
  }
  get connection() {
    return this.byId('connection');
  }
  get pending() {
    return this.byId('message-pending');
  }

  // Opens the panel with the launcher (unless open) and waits for the
  // connection to be up.
  async open() {
    if (!(await this.panel.isVisible())) await this.launcher.click();
    await this.panel.waitFor({ state: 'visible' });
    await this.online();
  }

  async online() {
    await this.connection.filter({ hasText: 'Online' }).waitFor();
  }

  // Types like a person and presses Enter.
  async send(text) {
    await this.input.click();
    await this.input.pressSequentially(text, { delay: 5 });
    await this.input.press('Enter');
  }

  // A bot (or agent) message containing `text`, once it is shown.
  async botSays(text, from = 'bot') {
    const m = this.byId(`message-${from}`).filter({ hasText: text }).last();
    await m.waitFor();
    return m;
  }

  // The visitor's delivered (acked) messages, as shown, in order.
  async visitorTexts() {
    return this.byId('message-visitor').getByTestId('text').allInnerTexts();
  }

  // Every message in the log, in order: "from: text" (notes and the greeting left out).
  async transcript() {
    return this.page.evaluate(() => {
      const root = document.querySelector('#supportbot-widget').shadowRoot;
      return Array.from(root.querySelectorAll('[data-testid=log] [data-seq]')).map((el) => {
        const from = el.classList.contains('visitor') ? 'visitor' : el.classList.contains('agent') ? 'agent' : 'bot';
        return `${el.dataset.seq} ${from}: ${el.querySelector('[data-testid=text]').innerText.trim()}`;
      });
    });
  }

  // Waits until the visitor message `text` is delivered (acked) once.
  async delivered(text) {
    await this.byId('message-visitor').getByTestId('text').getByText(text, { exact: true }).waitFor();
  }
}

module.exports = { Widget };
