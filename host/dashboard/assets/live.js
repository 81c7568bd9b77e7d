// Live regions: an element with data-live="<url>" is refreshed from that URL (an HTML fragment)
// every two seconds until the server answers with the header x-ferry-live: done.
(function () {
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
      }).catch(function () { /* next tick retries */ });
    }, 2000);
  }
  document.querySelectorAll('[data-live]').forEach(poll);
})();
