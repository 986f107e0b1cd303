/*
 * The bone marrow edema assistant's chat widget.
 *
 * Embed it with one tag (the assistant must list your site in WEBCHAT_ALLOWED_ORIGINS):
 *   <script src="https://YOUR-ASSISTANT/webhooks/socketio/static/widget.js" defer></script>
 * It talks to the assistant that served it, over socket.io at the standard /socket.io path,
 * loads its styles and the pinned socket.io client from there too (no CDN, no fonts), and
 * keeps the conversation across page reloads (session id and history in localStorage).
 * Message text is always inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var staticBase = script.src.replace(/\/[^/]*$/, "");
  var server = new URL(script.src).origin;
  var SESSION_KEY = "bme-chat:session";
  var HISTORY_KEY = "bme-chat:history";
  var MAX_HISTORY = 200;
  var REPLY_TIMEOUT_MS = 20000;
  var DISCLAIMER = "General information from one article, not medical advice. In an emergency, call your local emergency number.";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function load(key, fallback) {
    try {
      var value = JSON.parse(window.localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* private mode or full storage: the chat still works, it just won't survive a reload */
    }
  }

  function ensureStyles() {
    if (document.querySelector('link[href$="widget.css"]')) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = staticBase + "/widget.css";
    document.head.appendChild(link);
  }

  function withSocketIo(callback) {
    if (window.io) return callback(window.io);
    var loader = document.createElement("script");
    loader.src = staticBase + "/socket.io.min.js";
    loader.onload = function () { callback(window.io); };
    document.head.appendChild(loader);
  }

  function build(host, floating) {
    var root = el("section", "bme-chat" + (floating ? " bme-chat--floating" : ""));
    root.setAttribute("aria-label", "Bone marrow edema assistant chat");
    var panelId = "bme-chat-panel";

    var launcher = null;
    var panel = el("div", "bme-chat__panel");
    panel.id = panelId;

    var header = el("header", "bme-chat__header");
    header.appendChild(el("h2", "bme-chat__title", "BME assistant"));
    header.appendChild(el("p", "bme-chat__disclaimer", DISCLAIMER));

    var log = el("ol", "bme-chat__log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", "Conversation");

    var typing = el("div", "bme-chat__typing");
    typing.setAttribute("aria-live", "polite");

    var replies = el("div", "bme-chat__replies");
    replies.setAttribute("role", "group");
    replies.setAttribute("aria-label", "Suggested replies");

    var form = el("form", "bme-chat__form");
    var label = el("label", "bme-visually-hidden", "Your question");
    label.setAttribute("for", "bme-chat-input");
    var input = el("input", "bme-chat__input");
    input.id = "bme-chat-input";
    input.type = "text";
    input.autocomplete = "off";
    input.maxLength = 1000;
    input.placeholder = "Ask about bone marrow edema…";
    var send = el("button", "bme-chat__send", "Send");
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(typing);
    panel.appendChild(replies);
    panel.appendChild(form);

    if (floating) {
      launcher = el("button", "bme-chat__launcher", "Chat about BME");
      launcher.type = "button";
      launcher.setAttribute("aria-controls", panelId);
      launcher.setAttribute("aria-expanded", "false");
      panel.hidden = true;
      launcher.addEventListener("click", function () {
        panel.hidden = !panel.hidden;
        launcher.setAttribute("aria-expanded", String(!panel.hidden));
        if (!panel.hidden) input.focus();
      });
      root.appendChild(launcher);
    }
    root.appendChild(panel);
    host.appendChild(root);
    return { log: log, typing: typing, replies: replies, form: form, input: input };
  }

  function start(host, floating) {
    ensureStyles();
    var ui = build(host, floating);
    var history = load(HISTORY_KEY, []);
    var sessionId = load(SESSION_KEY, null);
    var replyTimer = null;
    var idleTimer = null;

    function show(from, text) {
      var item = el("li", "bme-chat__msg bme-chat__msg--" + from, text);
      ui.log.appendChild(item);
      ui.log.scrollTop = ui.log.scrollHeight;
    }

    function remember(from, text) {
      history.push({ from: from, text: text });
      if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
      save(HISTORY_KEY, history);
    }

    function showReplies(quickReplies) {
      ui.replies.textContent = "";
      (quickReplies || []).forEach(function (reply) {
        var button = el("button", "bme-chat__reply", reply.title);
        button.type = "button";
        button.addEventListener("click", function () { sendMessage(reply.payload, reply.title); });
        ui.replies.appendChild(button);
      });
    }

    function setTyping(on) {
      ui.typing.textContent = on ? "The assistant is typing…" : "";
    }

    history.forEach(function (entry) { show(entry.from, entry.text); });

    var socket = null;

    function sendMessage(payload, shownAs) {
      var text = (shownAs || payload || "").trim();
      if (!payload || !payload.trim() || !socket) return;
      show("user", text);
      remember("user", text);
      showReplies([]);
      setTyping(true);
      clearTimeout(replyTimer);
      replyTimer = setTimeout(function () {
        setTyping(false);
        show("status", "No reply yet. Check your connection and try again.");
      }, REPLY_TIMEOUT_MS);
      socket.emit("user_uttered", { message: payload, session_id: sessionId });
    }

    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = ui.input.value;
      ui.input.value = "";
      sendMessage(text);
    });

    withSocketIo(function (io) {
      socket = io(server, { path: "/socket.io", transports: ["websocket", "polling"] });
      socket.on("connect", function () {
        socket.emit("session_request", { session_id: sessionId });
      });
      socket.on("session_confirm", function (confirmed) {
        var isNew = confirmed !== sessionId || history.length === 0;
        sessionId = confirmed;
        save(SESSION_KEY, sessionId);
        if (isNew && history.length === 0) {
          /* Opens the conversation: a new session starts with the welcome and the disclaimer,
             then the greeting asks what they want to know. (Not "/session_start": on a new
             conversation Rasa would run the session start twice and welcome twice.) */
          socket.emit("user_uttered", { message: "/greet", session_id: sessionId });
          setTyping(true);
        }
      });
      socket.on("bot_uttered", function (message) {
        clearTimeout(replyTimer);
        if (message && typeof message.text === "string" && message.text) {
          show("bot", message.text);
          remember("bot", message.text);
        }
        showReplies(message && message.quick_replies);
        clearTimeout(idleTimer);
        idleTimer = setTimeout(function () { setTyping(false); }, 400);
      });
      socket.on("connect_error", function () {
        ui.typing.textContent = "Connecting to the assistant…";
      });
    });
  }

  function init() {
    var host = document.querySelector("[data-bme-chat]");
    if (host) {
      start(host, host.getAttribute("data-open") !== "true");
    } else {
      var container = document.createElement("div");
      document.body.appendChild(container);
      start(container, true);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
