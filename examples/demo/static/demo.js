// The demo's page: a lobby namespace that lists this host's rooms, and one
// room namespace at a time (/room/<name>), each created on demand by the server.
"use strict";

const MAIN_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const $ = (id) => document.getElementById(id);

const host = location.hostname;
const isMain = MAIN_HOSTS.has(host);
const state = { room: null, socket: null, joined: false, early: [] };
window.demo = state; // for tests and the curious

function hue(text) {
  let hash = 0;
  for (const char of text) {
    hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  }
  return hash % 360;
}

function setupTenant() {
  const accent = isMain ? 222 : hue(host);
  // Lightness 28 %: white text on it keeps a contrast of at least 4.5:1 for every hue.
  document.documentElement.style.setProperty("--accent", `hsl(${accent} 62% 28%)`);
  document.documentElement.style.setProperty("--accent-soft", `hsl(${accent} 70% 95%)`);
  $("tenant-host").textContent = host;
  $("tenant-kind").textContent = isMain ? "main host" : "tenant";
  document.title = `${isMain ? "main" : host.split(".")[0]} · dynamic-io chat`;
  const base = isMain ? "localhost" : host.split(".").slice(1).join(".") || "localhost";
  const port = location.port ? `:${location.port}` : "";
  $("link-alpha").href = `${location.protocol}//alpha.${base}${port}/`;
  $("link-beta").href = `${location.protocol}//beta.${base}${port}/`;
}

// Storage can be refused (a cross-site iframe, private modes): the name is then per page.
const saved = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // kept for this page only
    }
  },
};

function nick() {
  return $("nick").value.trim() || "guest";
}

// -- rendering -------------------------------------------------------------

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function render(message) {
  const item = document.createElement("li");
  if (message.kind === "presence") {
    item.className = "presence";
    item.textContent = `${message.nick} ${message.text} · ${clock(message.at)}`;
  } else {
    const avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.style.background = `hsl(${hue(message.nick)} 55% 55%)`;
    avatar.textContent = message.nick.slice(0, 1).toUpperCase();
    const body = document.createElement("div");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = message.nick;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = clock(message.at);
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = message.text;
    body.append(who, when, text);
    item.append(avatar, body);
  }
  const list = $("messages");
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function renderRooms(rooms) {
  const list = $("rooms");
  list.replaceChildren();
  if (rooms.length === 0) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "no live rooms";
    list.append(empty);
  }
  for (const { room, members } of rooms) {
    const link = document.createElement("a");
    link.href = `#${room}`;
    link.className = room === state.room ? "current" : "";
    const name = document.createElement("span");
    name.textContent = `# ${room}`;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = members;
    link.append(name, count);
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
}

function renderMembers(members) {
  const n = members.length;
  $("members").textContent = `${n} member${n === 1 ? "" : "s"}: ${members.join(", ")}`;
}

function setComposer(enabled) {
  for (const element of $("composer").elements) {
    element.disabled = !enabled;
  }
  if (enabled) {
    $("text").focus();
  }
}

// -- sockets ---------------------------------------------------------------

function enter(room) {
  if (state.socket) {
    state.socket.disconnect();
  }
  Object.assign(state, { room, joined: false, early: [] });
  $("room-title").textContent = `# ${room}`;
  $("fullname").textContent = "…";
  $("messages").replaceChildren();
  setComposer(false);
  for (const link of document.querySelectorAll(".rooms a")) {
    link.classList.toggle("current", link.getAttribute("href") === `#${room}`);
  }

  // Its own connection (forceNew), so leaving a room leaves nothing behind.
  const socket = io(`/room/${room}`, { forceNew: true, auth: { nick: nick() } });
  state.socket = socket;
  socket.on("connect", () => {
    showTransport(socket);
    socket.emit("join", (view) => {
      if (socket !== state.socket) return;
      $("fullname").textContent = view.fullname;
      $("retirement").textContent = view.retirement;
      renderMembers(view.members);
      $("messages").replaceChildren();
      for (const message of [...view.history, ...state.early]) {
        render(message);
      }
      state.joined = true;
      setComposer(true);
    });
  });
  socket.on("message", (message) => {
    if (state.joined) render(message);
    else state.early.push(message);
  });
  socket.on("members", renderMembers);
  socket.on("connect_error", (err) => {
    $("transport").textContent = `refused: ${err.message}`;
  });
  socket.on("disconnect", () => setComposer(false));
}

function showTransport(socket) {
  const update = () => {
    $("transport").textContent = `connected · ${socket.io.engine.transport.name}`;
  };
  update();
  socket.io.engine.once("upgrade", update);
}

function roomFromHash() {
  const name = decodeURIComponent(location.hash.slice(1)).toLowerCase();
  return /^[a-z0-9-]{1,32}$/.test(name) ? name : "general";
}

function start() {
  const asked = new URLSearchParams(location.search).get("nick");
  $("nick").value = asked || saved.get("nick") || `guest-${100 + Math.floor(Math.random() * 900)}`;

  const lobby = io("/lobby");
  lobby.on("connect", () => lobby.emit("rooms", renderRooms));
  lobby.on("rooms", renderRooms);

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (text && state.joined) {
      state.socket.emit("message", text);
      $("text").value = "";
    }
  });
  $("new-room").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("new-room-name").value.trim().toLowerCase();
    const input = $("new-room-name");
    if (/^[a-z0-9-]{1,32}$/.test(name)) {
      input.value = "";
      location.hash = name;
    } else {
      input.setCustomValidity("A room name is 1 to 32 of a-z, 0-9 and -");
      input.reportValidity();
    }
  });
  $("new-room-name").addEventListener("input", (event) => event.target.setCustomValidity(""));
  $("nick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saved.set("nick", nick());
    enter(state.room); // rejoin under the new name
  });
  window.addEventListener("hashchange", () => {
    if (roomFromHash() !== state.room) enter(roomFromHash());
  });
  enter(roomFromHash());
}

setupTenant(); // the header says which host this is, even without the client
if (typeof io === "undefined") {
  $("transport").textContent = "the Socket.IO client did not load";
} else {
  start();
}
