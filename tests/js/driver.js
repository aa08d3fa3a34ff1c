// Drives the official socket.io-client (v4) for tests/test_js_client.py.
//
// Commands arrive as JSON lines on stdin, reports leave as JSON lines on
// stdout. Every host name resolves to 127.0.0.1 through the http.Agent's
// `lookup`, so a URL such as http://alpha.test:PORT/chat sends
// `Host: alpha.test:PORT` on every request (the node client ignores
// extraHeaders.host on polling, so the URL is the only way to set it).
// Binary values travel as {"$binary": "<base64>"} in both directions.
//
// Commands (each names a socket by "id"):
//   {"op": "open", "id", "url", "namespace"?, "via"?, "opts"?}  io(url, opts); with a
//        namespace, manager.socket(namespace) on the manager of socket "via"
//        (the same Engine.IO connection) or on a new Manager(url, opts)
//   {"op": "emit", "id", "event", "args", "ack"?: ref}  with ack: report "ack"
//   {"op": "close", "id"}                               socket.disconnect()
//   {"op": "exit"}
// Reports: ready, connect, connect_error, disconnect, upgrade, message, ack, error.
"use strict";

const http = require("http");
const readline = require("readline");
const { io, Manager } = require("socket.io-client");

const ACK_TIMEOUT_MS = 15000;

function loopback(hostname, options, callback) {
  if (options && options.all) {
    callback(null, [{ address: "127.0.0.1", family: 4 }]);
  } else {
    callback(null, "127.0.0.1", 4);
  }
}

const agent = new http.Agent({ lookup: loopback });
const sockets = new Map();

function report(fields) {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

function encode(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return { $binary: Buffer.from(value).toString("base64") };
  }
  if (value instanceof ArrayBuffer) {
    return { $binary: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) {
    return value.map(encode);
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

function decode(value) {
  if (Array.isArray(value)) {
    return value.map(decode);
  }
  if (value && typeof value === "object") {
    if (typeof value.$binary === "string") {
      return Buffer.from(value.$binary, "base64");
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

function watchUpgrade(id, socket) {
  const attach = () => {
    socket.io.engine.on("upgrade", (transport) => {
      report({ event: "upgrade", id, transport: transport.name });
    });
  };
  if (socket.io.engine) {
    attach();
  } else {
    socket.io.once("open", attach);
  }
}

function open({ id, url, namespace, via, opts = {} }) {
  const options = { ...opts, agent, reconnection: false };
  let socket;
  if (namespace === undefined) {
    socket = io(url, options);
  } else {
    const manager = via === undefined ? new Manager(url, options) : sockets.get(via).io;
    socket = manager.socket(namespace, { auth: opts.auth });
  }
  sockets.set(id, socket);
  watchUpgrade(id, socket);
  socket.on("connect", () => {
    report({
      event: "connect",
      id,
      namespace: socket.nsp,
      transport: socket.io.engine.transport.name,
    });
  });
  socket.on("connect_error", (err) => {
    report({ event: "connect_error", id, message: err.message, data: encode(err.data ?? null) });
  });
  socket.on("disconnect", (reason) => report({ event: "disconnect", id, reason }));
  // An event the server sends with an ack id is answered with its own arguments.
  socket.onAny((name, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    report({ event: "message", id, name, args: encode(args), acked: ack !== null });
    if (ack) {
      ack(...args);
    }
  });
}

function emit({ id, event, args = [], ack }) {
  const socket = sockets.get(id);
  const values = decode(args);
  if (ack === undefined) {
    socket.emit(event, ...values);
    return;
  }
  socket.timeout(ACK_TIMEOUT_MS).emit(event, ...values, (err, ...reply) => {
    report({ event: "ack", id, ref: ack, args: encode(reply), error: err ? err.message : null });
  });
}

// Leave cleanly: each manager sends its Engine.IO close packet (a POST on
// polling), the server answers the pending long-poll, and node exits by
// itself (status 0) once nothing is left to do; a request still open after
// the grace period makes it exit with status 3.
function exit() {
  for (const socket of sockets.values()) {
    socket.disconnect();
  }
  input.close();
  process.stdin.destroy();
  setTimeout(() => process.exit(3), 3000).unref();
}

const commands = {
  open,
  emit,
  close: ({ id }) => sockets.get(id).disconnect(),
  exit,
};

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  let command;
  try {
    command = JSON.parse(line);
    commands[command.op](command);
  } catch (err) {
    report({ event: "error", message: String(err && err.stack ? err.stack : err), line });
  }
});
input.on("close", exit);
report({ event: "ready", version: require("socket.io-client/package.json").version });
