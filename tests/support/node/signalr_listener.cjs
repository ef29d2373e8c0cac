// Microsoft's official SignalR client (node_modules/@microsoft/signalr, unchanged) as a test app: connect to a hub,
// print one JSON line per event on stdout, stop when stdin closes or after --count messages / --timeout seconds.
//
//   node signalr_listener.cjs --url http://127.0.0.1:7071/api --header X-Dev-User=anna [--token JWT]
//        [--target notification] [--count 1] [--timeout 30]
"use strict";
const signalR = require("@microsoft/signalr");

function options(argv) {
  const parsed = { headers: {}, target: "notification", count: 0, timeout: 60 };
  for (let i = 2; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--url") parsed.url = value;
    else if (flag === "--token") parsed.token = value;
    else if (flag === "--target") parsed.target = value;
    else if (flag === "--count") parsed.count = Number(value);
    else if (flag === "--timeout") parsed.timeout = Number(value);
    else if (flag === "--header") {
      const at = value.indexOf("=");
      parsed.headers[value.slice(0, at)] = value.slice(at + 1);
    } else throw new Error("unknown flag " + flag);
  }
  if (!parsed.url) throw new Error("--url is required");
  return parsed;
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

async function main() {
  const opts = options(process.argv);
  const httpOptions = { headers: opts.headers, transport: signalR.HttpTransportType.WebSockets };
  if (opts.token) httpOptions.accessTokenFactory = () => opts.token;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(opts.url, httpOptions)
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  let received = 0;
  let stopping = false;
  const stop = async (reason) => {
    if (stopping) return;
    stopping = true;
    await connection.stop();
    emit({ event: "stopped", reason, received });
    process.exit(0);
  };
  connection.on(opts.target, (...args) => {
    received += 1;
    emit({ event: "message", target: opts.target, arguments: args, at: Date.now() });
    if (opts.count && received >= opts.count) stop("count");
  });
  connection.onclose((error) => {
    emit({ event: "closed", error: error ? String(error) : null });
    if (!stopping) process.exit(3);
  });
  try {
    await connection.start();
  } catch (error) {
    emit({ event: "failed", error: String(error) });
    process.exit(2);
  }
  emit({ event: "connected", connectionId: connection.connectionId });
  process.stdin.on("end", () => stop("stdin"));
  process.stdin.resume();
  setTimeout(() => stop("timeout"), opts.timeout * 1000);
}

main();
