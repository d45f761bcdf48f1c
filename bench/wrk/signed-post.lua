-- wrk script of `pnpm bench inbox`: each request is the next pre-signed
-- delivery from the file given after `--` (lines "signature<TAB>body"),
-- so every request is a distinct, validly signed event.
local deliveries = {}
local count = 0
local at = 0

function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    count = count + 1
    deliveries[count] = { sig = line:sub(1, tab - 1), body = line:sub(tab + 1) }
  end
end

function request()
  at = at % count + 1
  local d = deliveries[at]
  return wrk.format("POST", nil, { ["content-type"] = "application/json", ["stripe-signature"] = d.sig }, d.body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
