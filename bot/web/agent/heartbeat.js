// The console's presence heartbeat clock (console.js). A dedicated worker's
// timers keep their pace while the console's tab is in the background, where
// the browser may hold a page's own timers back to once a minute.
'use strict';

let timer = 0;
self.onmessage = (ev) => {
  clearInterval(timer);
  const every = Number(ev.data);
  if (every > 0) timer = setInterval(() => self.postMessage('tick'), every);
};
