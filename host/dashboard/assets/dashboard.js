// The dashboard's only script (pages work without it, minus live updates and confirmations).
(function () {
  // Live regions: an element with data-live="<url>" is refreshed from that URL (an HTML fragment)
  // every two seconds until the server answers with the header x-ferry-live: done.
  function poll(element) {
    var url = element.getAttribute('data-live');
    var timer = setInterval(function () {
      fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } }).then(function (response) {
        if (!response.ok) { clearInterval(timer); return; }
        var done = response.headers.get('x-ferry-live') === 'done';
        return response.text().then(function (text) {
          element.innerHTML = text;
          if (done) { clearInterval(timer); element.removeAttribute('data-live'); element.setAttribute('data-live-done', ''); }
        });
      }).catch(function () { /* the next tick retries */ });
    }, 2000);
  }
  document.querySelectorAll('[data-live]').forEach(poll);

  // Forms with data-confirm ask first (no inline handlers: the page's CSP allows none).
  document.addEventListener('submit', function (event) {
    var message = event.target.getAttribute && event.target.getAttribute('data-confirm');
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
