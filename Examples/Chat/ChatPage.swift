/// The chat room's page. Its script sends what you type over the WebSocket, and shows the room
/// twice: as heard on the WebSocket and as heard on the EventSource, so both can be seen working.
let chatPage = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Carafe chat</title>
    <style>
      body { font: 15px system-ui, sans-serif; margin: 2em; }
      .columns { display: flex; gap: 2em; }
      .columns section { flex: 1; }
      ul { list-style: none; padding: 0; min-height: 10em; border: 1px solid #ccc; }
      li { padding: .2em .5em; }
      #status { color: #666; }
    </style>
    </head>
    <body>
    <h1>Carafe chat</h1>
    <p id="status">connecting…</p>
    <form id="say">
      <input id="text" autocomplete="off" placeholder="Say something" required maxlength="4000">
      <button>Send</button>
    </form>
    <div class="columns">
      <section><h2>Heard over WebSocket</h2><ul id="websocket"></ul></section>
      <section><h2>Heard over EventSource</h2><ul id="eventsource"></ul></section>
    </div>
    <script>
      const name = new URLSearchParams(location.search).get("name") || "anonymous";
      const ready = { websocket: false, eventsource: false };
      const status = document.getElementById("status");

      function show(list, line) {
        const item = document.createElement("li");
        item.textContent = line;  // text, never HTML: what others type cannot run here
        document.getElementById(list).append(item);
      }
      function mark(transport, isReady) {
        ready[transport] = isReady;
        status.textContent = Object.entries(ready).map(([t, r]) => `${t}: ${r ? "connected" : "not connected"}`).join(", ");
        status.dataset.ready = ready.websocket && ready.eventsource;
      }

      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(`${scheme}//${location.host}/ws?name=${encodeURIComponent(name)}`);
      socket.onmessage = (event) => {
        if (event.data.startsWith("* joined")) mark("websocket", true);
        show("websocket", event.data);
      };
      socket.onclose = () => mark("websocket", false);

      const events = new EventSource("/events");
      events.addEventListener("joined", () => mark("eventsource", true));
      events.onmessage = (event) => show("eventsource", event.data);
      events.onerror = () => mark("eventsource", false);  // it reconnects by itself

      document.getElementById("say").onsubmit = (event) => {
        event.preventDefault();
        const text = document.getElementById("text");
        socket.send(text.value);
        text.value = "";
      };
    </script>
    </body>
    </html>
    """#
