-- mix.lua: wrk's requests for the soak, in turn: pages, probes and a body.
-- Host is given here: wrk only fills it in after the script has loaded.
-- No HEAD: wrk does not know which request an answer is for, and would
-- wait for the body its Content-Length announces.
local h = {["Host"] = "soak"}
local reqs = {
  wrk.format("GET", "/", h),
  wrk.format("GET", "/health", h),
  wrk.format("GET", "/echo?soak=1", h),
  wrk.format("POST", "/echo", {["Host"] = "soak", ["Content-Type"] = "text/plain"}, "soak body"),
  wrk.format("GET", "/bytes/3000?seed=7", h),
  wrk.format("GET", "/status/204", h),
  wrk.format("GET", "/stats", h),
}
local i = 0

request = function()
  i = i % #reqs + 1
  return reqs[i]
end
