-- Runs once per VU interpreter (see vm.rs): builds the sandbox and the script API, and returns the
-- runner that every script run goes through. `host` holds the Rust functions of host.rs; they
-- reach the running step's Host and take already-checked arguments (checks happen here, in Lua,
-- where they are cheap and `error(msg, 2)` points at the script's line).
local host, check_budget, print_fn = ...
local G = _G
local error, setmetatable, type, tostring, rawpcall, rawxpcall = error, setmetatable, type, tostring, pcall, xpcall
local format = string.format

-- Sandbox: nothing that reaches files, processes, modules or the interpreter's internals.
local BLOCKED = {
  io = "no file access",
  require = "no modules", package = "no modules", module = "no modules",
  load = "no loading of code", loadfile = "no loading of code", dofile = "no loading of code",
  loadstring = "no loading of code",
  debug = "no debug library", collectgarbage = "memory is managed by Stampede",
  warn = "use print", setfenv = "not in Lua 5.4", getfenv = "not in Lua 5.4",
}
for name in pairs(BLOCKED) do G[name] = nil end
setmetatable(G, {
  __index = function(_, k)
    local why = BLOCKED[k]
    if why then
      error("'" .. k .. "' is not available in Stampede scripts (sandbox: " .. why .. ")", 2)
    end
  end,
})
local OS_ALLOWED = "only os.time, os.clock, os.date and os.difftime are"
os = setmetatable(
  { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
  { __index = function(_, k)
      error("'os." .. tostring(k) .. "' is not available in Stampede scripts (sandbox: "
        .. OS_ALLOWED .. ")", 2)
    end }
)
string.dump = nil
print = print_fn

-- The instruction budget: pcall/xpcall must not swallow its error.
local function pass(ok, ...)
  if not ok then check_budget() end
  return ok, ...
end
pcall = function(f, ...) return pass(rawpcall(f, ...)) end
xpcall = function(f, handler, ...) return pass(rawxpcall(f, handler, ...)) end

-- What a value is, for error messages.
local function describe(v)
  local t = type(v)
  if t == "nil" then return "nil" end
  if t == "string" then return format("the string %q", v) end
  if t == "number" or t == "boolean" then return "the " .. t .. " " .. tostring(v) end
  return "a " .. t
end

-- `vars`: an empty table whose reads fall through to `known`, the text values read or written
-- in this interpreter (a plain table lookup, no call into Rust), and from there to Rust. Writes
-- always go to Rust, which says whether it keeps that name (a string is then kept here). The
-- runner empties `known` when the user's variables changed outside the scripts (see vm.rs).
-- Lists are never kept: each read gives a new table.
local var_get, var_set, rawget, rawset, next = host.var_get, host.var_set, rawget, rawset, next
local known = setmetatable({}, {
  __index = function(t, name)
    local value = var_get(t, name)
    if type(value) == "string" then rawset(t, name, value) end
    return value
  end,
})
vars = setmetatable({}, {
  __index = known,
  __newindex = function(t, name, value)
    if var_set(t, name, value) and type(value) == "string" then
      rawset(known, name, value)
    elseif rawget(known, name) ~= nil then
      rawset(known, name, nil)
    end
  end,
  __pairs = function() error("vars cannot be iterated: read the variables by name", 2) end,
  __metatable = "vars",
})
local function forget()
  for name in next, known do known[name] = nil end
end

local status, body, header, body_json = host.status, host.body, host.header, host.json
local methods = {
  header = function(_, name)
    if type(name) ~= "string" then
      error("response:header(name): the name must be a string, not " .. describe(name), 2)
    end
    return header(name)
  end,
  json = function(_) return body_json() end,
}
local RESPONSE = setmetatable({}, {
  __index = function(_, k)
    if k == "status" then return status() end
    if k == "body" then return body() end
    return methods[k]
  end,
  __newindex = function(_, k) error("response is read-only (tried to set response." .. tostring(k) .. ")", 2) end,
  __metatable = "response",
})

local host_fail = host.fail
function fail(message)
  if message == nil then message = "fail() called without a message" end
  host_fail(tostring(message))
end

metrics = { counter = host.counter, trend = host.trend, gauge = host.gauge }

return function(chunk, has_response, fresh)
  if fresh then forget() end
  if has_response then response = RESPONSE else response = nil end
  chunk()
end
