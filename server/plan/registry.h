// ObjectRegistry: the configuration objects of every tenant (a clinic or
// site) — tenants, calendars (practitioners or resources), appointment
// types, patients, templates — and the addresses that replied STOP. The
// appointment book asks it for what an appointment refers to; it knows
// nothing of appointments.
//
// Store records (state database; ObjKey = tenant (4, big-endian) + id):
//   pt/<tenant 4>                 tenant (JSON, with its token secret)
//   pc/<tenant 4><id>             calendar (JSON)
//   py/<tenant 4><id>             appointment type (JSON)
//   pp/<tenant 4><id>             patient (JSON)
//   pn/<tenant 4><id>             a patient's attendance counts (binary: they
//                                 change with every visit status, the
//                                 document rarely); the truth over the JSON's
//   pm/<tenant 4><kind/channel/locale>  template (JSON: subject, body)
//   ps/<tenant 4><address>        an address that replied STOP (empty value)
//
// A put is validated first (PreparePut: nothing changes), written by the
// caller, and applied once durable (Prepared::apply): nothing refers to an
// object before its record is in the store.
//
// Thread: the owner (io) thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "server/plan/model.h"
#include "server/plan/state_keys.h"
#include "server/plan/templates.h"
#include "server/store/store.h"

namespace rappel::server::plan {

enum class ObjectKind : uint8_t { kTenant = 1, kCalendar = 2, kType = 3, kPatient = 4, kTemplate = 5 };

// Scans the records under `prefix` whose key is prefix + tenant (4) + rest,
// calling fn(tenant, rest, value) until it returns an error. DataLoss for a
// key too short to hold a tenant.
absl::Status ScanByTenant(
    Store::Reader& reader, std::string_view prefix,
    const std::function<absl::Status(uint32_t, std::string_view, std::string_view)>& fn);

class ObjectRegistry {
 public:
  struct TemplatePair {
    Template subject;
    Template body;
    std::string json;
    bool track_opens = false;  // the worker is asked to track opens (Message.track_opens)
  };

  // Loads every object and STOP address from the store.
  absl::Status Load(Store::Reader& reader);

  // A validated put: the records to write, the object as the caller sees it
  // (without secrets), and what applies it to memory once durable.
  struct Prepared {
    std::vector<StateOp> writes;
    std::string shown;
    std::function<void()> apply;
  };
  // Errors: InvalidArgument (bad document, time zone, template, id),
  // NotFound (unknown tenant). A tenant gets its token secret when first
  // created and keeps it.
  absl::StatusOr<Prepared> PreparePut(ObjectKind kind, uint32_t tenant, std::string id,
                                      std::string_view json);
  // The object as stored (without secrets); NotFound.
  absl::StatusOr<std::string> Get(ObjectKind kind, uint32_t tenant, const std::string& id) const;

  // Null when unknown.
  const Tenant* FindTenant(uint32_t tenant) const;
  const Calendar* FindCalendar(uint32_t tenant, std::string_view id) const;
  const AppointmentType* FindType(uint32_t tenant, std::string_view id) const;
  const Patient* FindPatient(uint32_t tenant, std::string_view id) const;
  Patient* FindPatient(uint32_t tenant, std::string_view id);
  const TemplatePair* FindTemplate(uint32_t tenant, MessageKind kind, Channel channel,
                                   std::string_view locale) const;

  // The ids of the tenant's patients with this mobile number.
  const std::vector<std::string>& PatientsWithMobile(uint32_t tenant,
                                                     std::string_view mobile) const;
  // Whether two patients share a number anywhere (most deployments: never,
  // and then households need no lookup).
  bool any_shared_mobile() const { return shared_mobiles_ > 0; }

  // The records of a patient's document and of its attendance counts.
  static StateOp PatientRecord(const Patient& p);
  static StateOp AttendanceRecord(const Patient& p);

  // STOP: the address gets nothing more until START. Returns its record's
  // write (applied to memory at once: the book's change is in flight).
  StateOp SetStopped(uint32_t tenant, const std::string& address, bool stopped);
  bool AddressStopped(uint32_t tenant, std::string_view address) const {
    return !stopped_.empty() && !address.empty() && stopped_.contains(ObjKey(tenant, address));
  }
  // The channels whose address (mobile: SMS and voice; e-mail) replied STOP.
  ChannelMask StoppedChannels(const Patient& p) const;

 private:
  // Stores the patient and keeps by_mobile_ up to date.
  void SetPatient(Patient p);

  absl::flat_hash_map<uint32_t, Tenant> tenants_;
  absl::flat_hash_map<std::string, Calendar> calendars_;      // ObjKey(tenant, id)
  absl::flat_hash_map<std::string, AppointmentType> types_;
  absl::flat_hash_map<std::string, Patient> patients_;
  absl::flat_hash_map<std::string, TemplatePair> templates_;  // ObjKey(tenant, kind/channel/locale)
  // ObjKey(tenant, mobile) -> the patients with that number (households,
  // STOP).
  absl::flat_hash_map<std::string, std::vector<std::string>> by_mobile_;
  size_t shared_mobiles_ = 0;  // numbers with two patients or more
  absl::flat_hash_set<std::string> stopped_;  // ObjKey(tenant, address): replied STOP (ps/)
};

}  // namespace rappel::server::plan
