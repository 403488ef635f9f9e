// MessageSummary: what became of a tenant's messages, counted by the
// tenant's local day, channel and message kind (the clinic's message
// summary): sent, delivered, opened, clicked, failed, dropped by reason
// class, and credits spent. A message counts in the day it was acked or
// dropped (its late outcomes too, whenever they arrive).
//
//   su/<tenant 4><day 4><channel 1><kind 1>   one row's counters
//
// (day: days since 1970-01-01 local, offset by 2^31 so that keys sort.) A
// row changes when a message's state changes (message_outcome.h): the
// counters follow its state bits, so a bounce after "delivered" moves the
// message from delivered to failed. The row's new value is written in the
// commit that changes the message (an ack, a drop, a late outcome): the
// counters are exactly as durable as the messages they count (memory runs
// ahead until the commit lands, and is read back if it fails). Rows are
// kept (a few dozen bytes per tenant, day, channel and kind in use).
//
// Thread: the owner (io) thread.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "server/engine/engine.h"
#include "server/plan/message_outcome.h"
#include "server/plan/model.h"
#include "server/store/store.h"

namespace rappel::server::plan {

class MessageSummary {
 public:
  struct Key {
    uint32_t tenant = 0;
    int64_t day = 0;  // local day
    Channel channel = Channel::kSms;
    MessageKind kind = MessageKind::kConfirmation;
    auto operator<=>(const Key&) const = default;
  };
  struct Counts {
    uint64_t sent = 0, delivered = 0, opened = 0, clicked = 0, failed = 0, credits = 0;
    std::array<uint64_t, kDropClassCount> dropped{};  // by DropClass (index 0 unused)
    uint64_t dropped_total() const;
    bool operator==(const Counts&) const = default;
  };

  absl::Status Load(Store::Reader& reader);

  // A message of (tenant, day, channel, kind) went from state `before` to
  // `after` (message_state bits; `drop_class` when it is dropped) and
  // `credits` were spent on it: the row is counted and its record written
  // into `writes`, once: if `writes` already holds a put of the row (an ack
  // batch's successes share one), that put takes the new value instead of
  // a second one being added (rows are absolute values, and the last put
  // of a key in a commit is the one that lands).
  void Note(const Key& key, uint8_t before, uint8_t after, DropClass drop_class, uint32_t credits,
            Engine::StateWrites* writes);

  // A commit that carried these rows failed: they are read back from the
  // store (what Note changed in memory for them is forgotten).
  void Reload(Store::Reader& reader, const std::vector<Key>& keys);

  // The tenant's rows for days in [from_day, to_day], in key order.
  std::vector<std::pair<Key, Counts>> Range(uint32_t tenant, int64_t from_day,
                                            int64_t to_day) const;

  static std::string RecordKey(const Key& key);

 private:
  absl::btree_map<Key, Counts> rows_;
  // Where each row was put in the last `writes` Note was given (checked
  // before use: the vector may since have moved, been committed, or be a
  // new one at the same address).
  const Engine::StateWrites* open_writes_ = nullptr;
  std::vector<std::pair<Key, size_t>> open_rows_;
};

}  // namespace rappel::server::plan
