/*
 * The bone marrow edema assistant's chat widget.
 *
 * Embed it with one tag (the assistant must list your site in WEBCHAT_ALLOWED_ORIGINS):
 *   <script src="https://YOUR-ASSISTANT/webhooks/socketio/static/widget.js" defer></script>
 * It talks to the assistant that served it, over socket.io at the standard /socket.io path,
 * loads its styles and the pinned socket.io client from there too (no CDN, no fonts), and
 * keeps the conversation across page reloads (session id and history in localStorage).
 * Message text is always inserted as text, never as HTML.
 *
 * What it does for the reader:
 * - The newest message stays fully in view after every reply, quick-reply change and resize
 *   (a ResizeObserver re-pins it), unless they scrolled up to read: then a "New message"
 *   button appears instead of a jump.
 * - Below 600 px wide (or 500 px high: a phone held sideways, 200% zoom) the chat fills the
 *   visible viewport (window.visualViewport, so the input stays above the on-screen keyboard),
 *   with a one-line header and quick replies in one horizontally scrollable row.
 * - The disclaimer lives in the header, so opening the chat shows one short greeting: messages
 *   carry `disclaimer_in_header` in their metadata, and the assistant's session start then
 *   leaves out its welcome and disclaimer bubbles (actions/actions.py).
 * - "New chat" starts a new conversation (a new session id) and says so in the log.
 * - After "delete my conversation" is confirmed, the assistant's reply carries `erased`: the
 *   widget then forgets its own copy too (history and session id in localStorage), shows only
 *   that reply, and starts a new conversation.
 * - Escape closes the floating chat and gives focus back to its button.
 * - Under an answer, 👍 / 👎 (when the assistant offers them in the bubble's metadata) send the
 *   rating back; the assistant keeps it with the conversation and its thanks replaces the buttons.
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
  var NEW_CONVERSATION = "New conversation started: the assistant no longer sees the earlier one.";
  var METADATA = { disclaimer_in_header: true };
  var FOLLOW_SLACK_PX = 32; /* this close to the newest message counts as "reading the newest" */
  var SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text) {
    var node = el("button", className, text);
    node.type = "button";
    return node;
  }

  function icon(paths) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
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
    var root = el("section", "bme-chat " + (floating ? "bme-chat--floating" : "bme-chat--inline"));
    root.setAttribute("aria-label", "Bone marrow edema assistant chat");

    var panel = el("div", "bme-chat__panel");
    panel.id = "bme-chat-panel";

    var header = el("header", "bme-chat__header");
    var bar = el("div", "bme-chat__bar");
    var title = el("h2", "bme-chat__title", "BME assistant");
    title.id = "bme-chat-title";
    /* On a phone the header is one line: this button shows the whole disclaimer under it. */
    var about = button("bme-chat__about", "Not medical advice");
    about.setAttribute("aria-expanded", "false");
    about.setAttribute("aria-controls", "bme-chat-disclaimer");
    var newChat = button("bme-chat__new");
    newChat.title = "Start a new conversation";
    newChat.appendChild(icon(["M12 5v14", "M5 12h14"]));
    newChat.appendChild(el("span", "bme-chat__new-label", "New chat"));
    bar.appendChild(title);
    bar.appendChild(about);
    bar.appendChild(newChat);
    var close = null;
    if (floating) {
      close = button("bme-chat__close");
      close.setAttribute("aria-label", "Close chat");
      close.appendChild(icon(["M6 6l12 12", "M18 6L6 18"]));
      bar.appendChild(close);
    }
    var disclaimer = el("p", "bme-chat__disclaimer", DISCLAIMER);
    disclaimer.id = "bme-chat-disclaimer";
    header.appendChild(bar);
    header.appendChild(disclaimer);

    /* The log scrolls, so it takes keyboard focus (arrow keys and Page Up/Down read back). */
    var body = el("div", "bme-chat__body");
    var log = el("div", "bme-chat__log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", "Conversation");
    log.tabIndex = 0;
    var list = el("ol", "bme-chat__list");
    log.appendChild(list);
    var jump = button("bme-chat__jump", "New message ");
    jump.appendChild(el("span", null, "↓")).setAttribute("aria-hidden", "true");
    jump.hidden = true;
    body.appendChild(log);
    body.appendChild(jump);

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
    input.setAttribute("enterkeyhint", "send");
    var send = el("button", "bme-chat__send", "Send");
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(body);
    panel.appendChild(typing);
    panel.appendChild(replies);
    panel.appendChild(form);

    var launcher = null;
    if (floating) {
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-labelledby", title.id);
      launcher = button("bme-chat__launcher", "Chat about BME");
      launcher.setAttribute("aria-controls", panel.id);
      launcher.setAttribute("aria-expanded", "false");
      panel.hidden = true;
      root.appendChild(launcher);
    }
    root.appendChild(panel);
    host.appendChild(root);
    return {
      root: root, panel: panel, about: about, newChat: newChat, close: close, launcher: launcher,
      log: log, list: list, jump: jump, typing: typing, replies: replies, form: form, input: input
    };
  }

  function start(host, floating) {
    ensureStyles();
    var ui = build(host, floating);
    var history = load(HISTORY_KEY, []);
    var sessionId = load(SESSION_KEY, null);
    var greeted = {};
    var replyTimer = null;
    var idleTimer = null;
    var socket = null;

    /* --- keeping the newest message in view ------------------------------------------------ */

    var following = true; /* the reader is at the newest message: keep them there */
    var lastScrollTop = -1; /* where we last scrolled, to tell our scrolls from theirs */

    /* The scroll position that shows the newest message whole (or, if it is taller than the
       log, from its first line). */
    function newestScrollTop() {
      var log = ui.log;
      var end = log.scrollHeight - log.clientHeight;
      var newest = ui.list.lastElementChild;
      var gap = 8;
      if (newest && newest.offsetHeight > log.clientHeight - 2 * gap) {
        return Math.max(0, Math.min(end, newest.offsetTop - gap));
      }
      return Math.max(0, end);
    }

    function showNewest() {
      following = true;
      ui.jump.hidden = true;
      ui.log.scrollTop = newestScrollTop();
      lastScrollTop = ui.log.scrollTop;
    }

    ui.log.addEventListener("scroll", function () {
      if (Math.abs(ui.log.scrollTop - lastScrollTop) < 1) return; /* our own scroll */
      lastScrollTop = -1;
      following = newestScrollTop() - ui.log.scrollTop <= FOLLOW_SLACK_PX;
      if (following) ui.jump.hidden = true;
    });

    function keepNewestInView() {
      if (following && !ui.panel.hidden) showNewest();
    }

    if (window.ResizeObserver) {
      /* The log's box (quick replies come and go, the keyboard opens, the window resizes) and
         its content (text rewraps) */
      var observer = new ResizeObserver(keepNewestInView);
      observer.observe(ui.log);
      observer.observe(ui.list);
    }
    window.addEventListener("resize", keepNewestInView);

    ui.jump.addEventListener("click", function () {
      showNewest();
      ui.log.focus();
    });

    /* --- filling the visible viewport on a phone --------------------------------------------- */

    function fitViewport() {
      var viewport = window.visualViewport;
      ui.root.style.setProperty("--bme-viewport-height", (viewport ? viewport.height : window.innerHeight) + "px");
      ui.root.style.setProperty("--bme-viewport-top", (viewport ? viewport.offsetTop : 0) + "px");
    }
    fitViewport();
    if (window.visualViewport) {
      window.visualViewport.addEventListener("resize", fitViewport);
      window.visualViewport.addEventListener("scroll", fitViewport);
    }
    window.addEventListener("resize", fitViewport);

    /* --- header controls ---------------------------------------------------------------------- */

    ui.about.addEventListener("click", function () {
      var open = ui.about.getAttribute("aria-expanded") !== "true";
      ui.about.setAttribute("aria-expanded", String(open));
      ui.root.classList.toggle("bme-chat--about-open", open);
    });

    function setOpen(open, focusAfter) {
      ui.panel.hidden = !open;
      ui.launcher.setAttribute("aria-expanded", String(open));
      ui.root.classList.toggle("bme-chat--open", open);
      if (open) {
        fitViewport();
        showNewest();
        ui.input.focus();
      } else if (focusAfter) {
        ui.launcher.focus();
      }
    }

    if (floating) {
      ui.launcher.addEventListener("click", function () { setOpen(ui.panel.hidden, false); });
      ui.close.addEventListener("click", function () { setOpen(false, true); });
      ui.root.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && !ui.panel.hidden) {
          event.preventDefault();
          setOpen(false, true);
        }
      });
    }

    /* --- messages ----------------------------------------------------------------------------- */

    function show(from, text, restored) {
      var item = el("li", "bme-chat__msg bme-chat__msg--" + from + (restored ? " bme-chat__msg--restored" : ""), text);
      ui.list.appendChild(item);
      if (following || from === "user") {
        showNewest();
      } else if (!restored) {
        ui.jump.hidden = false;
      }
      return item;
    }

    /* --- 👍 / 👎 under an answer ------------------------------------------------------------ */

    /* A thumb (drawn here: emoji need a font the reader may not have); 👎 is it upside down. */
    var THUMB = ["M7 10.5l3.6-7.2c1.3.1 2.2 1 2.2 2.3v3.9h5.3c1.2 0 2.1 1.1 1.9 2.3l-1.2 6.9c-.2 1-1 1.6-2 1.6H7z",
                 "M3 10.5h4V21H3z"];
    var RATINGS = [["up", "Helpful"], ["down", "Not helpful"]];
    var awaitingThanks = []; /* rating rows whose thanks the assistant has not sent yet */

    /* Two small buttons at the foot of the bubble. A press sends the payload the assistant gave
       (it keeps the rating in the conversation, not as a question) and shows its thanks there. */
    function offerRating(item, payloads) {
      var row = el("div", "bme-chat__rate");
      row.setAttribute("role", "group");
      row.setAttribute("aria-label", "Was this answer helpful?");
      RATINGS.forEach(function (rating) {
        if (!payloads[rating[0]]) return;
        var choice = button("bme-chat__rate-button bme-chat__rate-button--" + rating[0]);
        choice.appendChild(icon(THUMB));
        choice.setAttribute("aria-label", rating[1]);
        choice.title = rating[1];
        choice.setAttribute("aria-pressed", "false");
        choice.addEventListener("click", function (event) {
          if (!socket) return;
          if (event.detail === 0) ui.input.focus(); /* the buttons go: don't leave focus nowhere */
          choice.setAttribute("aria-pressed", "true");
          row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          awaitingThanks.push(row);
          socket.emit("user_uttered", { message: payloads[rating[0]], session_id: sessionId, metadata: METADATA });
        });
        row.appendChild(choice);
      });
      item.appendChild(row);
      keepNewestInView();
    }

    function thank(text) {
      var row = awaitingThanks.shift();
      if (!row) return;
      row.textContent = text;
      row.classList.add("bme-chat__rate--done");
    }

    function remember(from, text) {
      history.push({ from: from, text: text });
      if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
      save(HISTORY_KEY, history);
    }

    function showReplies(quickReplies) {
      ui.replies.textContent = "";
      (quickReplies || []).forEach(function (reply) {
        var choice = button("bme-chat__reply", reply.title);
        choice.addEventListener("click", function (event) {
          var byKeyboard = event.detail === 0;
          sendMessage(reply.payload, reply.title);
          if (byKeyboard) ui.input.focus(); /* the buttons are gone: don't leave focus nowhere */
        });
        ui.replies.appendChild(choice);
      });
      keepNewestInView();
    }

    function setTyping(on) {
      ui.typing.textContent = on ? "The assistant is typing…" : "";
    }

    history.forEach(function (entry) { show(entry.from, entry.text, true); });

    function sendMessage(payload, shownAs) {
      var text = (shownAs || payload || "").trim();
      if (!payload || !payload.trim() || !socket) return;
      show("user", text);
      remember("user", text);
      showReplies([]);
      setTyping(true);
      clearTimeout(idleTimer); /* an earlier reply's timer must not hide this one's indicator */
      clearTimeout(replyTimer);
      replyTimer = setTimeout(function () {
        setTyping(false);
        show("status", "No reply yet. Check your connection and try again.");
      }, REPLY_TIMEOUT_MS);
      socket.emit("user_uttered", { message: payload, session_id: sessionId, metadata: METADATA });
    }

    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = ui.input.value;
      ui.input.value = "";
      sendMessage(text);
    });

    function newConversation(notice) {
      if (typeof notice !== "string") notice = NEW_CONVERSATION; /* a click passes an event */
      clearTimeout(replyTimer);
      clearTimeout(idleTimer);
      history = [];
      sessionId = null;
      save(SESSION_KEY, null);
      ui.list.textContent = "";
      following = true;
      showReplies([]);
      setTyping(false);
      show("status", notice);
      remember("status", notice);
      ui.input.focus();
      if (socket) {
        /* A new socket leaves the old conversation's room, so no late reply from it shows up
           here; the reconnect asks for a new session id. */
        socket.disconnect();
        socket.connect();
      }
    }
    ui.newChat.addEventListener("click", newConversation);

    withSocketIo(function (io) {
      socket = io(server, { path: "/socket.io", transports: ["websocket", "polling"] });
      socket.on("connect", function () {
        if (ui.typing.textContent === "Connecting to the assistant…") setTyping(false);
        socket.emit("session_request", { session_id: sessionId });
      });
      socket.on("session_confirm", function (confirmed) {
        sessionId = confirmed;
        save(SESSION_KEY, sessionId);
        var conversed = history.some(function (entry) { return entry.from === "user" || entry.from === "bot"; });
        if (!conversed && !greeted[sessionId]) {
          /* Opens the conversation with the assistant's greeting. (Not "/session_start": on a
             new conversation Rasa would run the session start twice.) */
          greeted[sessionId] = true;
          socket.emit("user_uttered", { message: "/greet", session_id: sessionId, metadata: METADATA });
          setTyping(true);
        }
      });
      socket.on("bot_uttered", function (message) {
        var metadata = (message && message.metadata) || {};
        if (metadata.answer === "feedback") { /* thanks for a rating: shown where it was given */
          thank(String(message.text || ""));
          return;
        }
        clearTimeout(replyTimer);
        if (message && message.erased === true) {
          /* The assistant deleted this conversation: so does the browser. */
          newConversation(typeof message.text === "string" ? message.text : NEW_CONVERSATION);
          return;
        }
        if (message && typeof message.text === "string" && message.text) {
          var item = show("bot", message.text);
          remember("bot", message.text);
          if (metadata.feedback) offerRating(item, metadata.feedback);
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
