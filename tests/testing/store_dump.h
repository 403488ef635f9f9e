// StoreDump: everything a closed store holds (log, state, replication
// position and term history), for tests comparing a standby with its
// primary; OnIo: a closure run on an in-process rappeld's io thread.
#pragma once

#include <future>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/testing/rappeld_thread.h"

namespace rappel::testing {

struct StoreDump {
  std::vector<std::pair<uint64_t, std::string>> log;
  std::vector<std::pair<std::string, std::string>> state;
  server::ReplPos pos;
  std::vector<server::ReplPos> terms;
};

// Opens the store in `path` (no process may hold it) and reads it all.
inline StoreDump Dump(const std::string& path) {
  server::StoreOptions o;
  o.path = path;
  auto store = server::Store::Open(o, [](std::function<void()> fn) { fn(); });
  EXPECT_TRUE(store.ok()) << store.status();
  StoreDump d;
  if (!store.ok()) return d;
  auto r = (*store)->NewReader();
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return d;
  EXPECT_TRUE(r->ScanLog(0, [&](server::SeqNo s, std::string_view b) {
                 d.log.emplace_back(s, std::string(b));
                 return true;
               }).ok());
  EXPECT_TRUE(r->ScanState("", [&](std::string_view k, std::string_view v) {
                 d.state.emplace_back(std::string(k), std::string(v));
                 return true;
               }).ok());
  d.pos = *r->GetReplPos();
  d.terms = *r->GetReplTerms();
  return d;
}

// Runs fn on the server's io thread and returns its result.
template <typename Fn>
auto OnIo(RappeldThread& t, Fn fn) {
  std::promise<decltype(fn())> p;
  asio::post(t.io(), [&] { p.set_value(fn()); });
  return p.get_future().get();
}

}  // namespace rappel::testing
