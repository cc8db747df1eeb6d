//! `Address.Pickup`: the four ways to name the target, the fixed order of
//! the overloaded empty/empty form, and `Features`, which is computed from
//! the same predicates so that it says exactly what `Pickup` would do.

use super::*;

impl Engine {
    /// An inbound call alerting somewhere that `picker` may take.
    fn pickable_alerting(&self, c: &Call, picker: AddressId, line: LineId) -> bool {
        if c.state != cs::OFFERING
            || c.call_waiting
            || c.address == picker
            || c.station == Some(line)
        {
            return false;
        }
        // Already picked up, ringing the winner's phone: the losers of a
        // race get NothingToPickUp, not the call.
        if c.reason == call_reason::PICKUP && c.station.is_some() {
            return false;
        }
        match c.carrier {
            Carrier::Internal { placing: true, .. } => false,
            // never the call the picker itself is placing
            Carrier::Internal {
                peer,
                placing: false,
            } => self.calls.get(&peer).and_then(|p| p.station) != Some(line),
            Carrier::Trunk(t) => self.usable(t),
            Carrier::Network { .. } => true,
        }
    }

    fn in_groups(&self, c: &Call, groups: &[String]) -> bool {
        self.addresses
            .get(&c.address)
            .is_some_and(|a| a.call_groups.iter().any(|g| groups.contains(g)))
    }

    /// The station's call on a trunk with call-waiting service, if any.
    fn call_waiting_situation(&self, line: LineId) -> bool {
        self.calls.values().any(|c| {
            c.state == cs::CONNECTED
                && (c.station == Some(line) || c.carrier == Carrier::Trunk(line))
                && matches!(c.carrier, Carrier::Trunk(t)
                    if self.lines.get(&t).is_some_and(|l| l.policy.call_waiting && l.state == LineState::InService))
        })
    }

    pub(super) fn station_busy(&self, line: LineId) -> bool {
        self.calls.values().any(|c| {
            c.station == Some(line) && matches!(c.state, cs::CONNECTED | cs::RINGBACK | cs::DIALING)
        })
    }

    fn oldest(&self, mut pred: impl FnMut(&Call) -> bool) -> Option<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| pred(c))
            .min_by_key(|(_, c)| c.since)
            .map(|(id, _)| *id)
    }

    fn group_exists(&self, group: &str) -> bool {
        self.addresses.values().any(|a| {
            a.call_groups
                .iter()
                .chain(&a.pickup_groups)
                .any(|g| g == group)
        })
    }

    pub(super) fn pickup(
        &mut self,
        picker: AddressId,
        dest: &str,
        group: &str,
    ) -> Result<CallId, PickupError> {
        let Some(p) = self.addresses.get(&picker) else {
            return Err(PickupError::InvalidAddress(format!(
                "address {} no longer exists",
                picker.0
            )));
        };
        let line = p.line;
        let picker_number = p.number.clone();
        let pickup_groups = p.pickup_groups.clone();
        let cap = p.cap_flags;
        // Arguments first: a bad number or group is the caller's mistake
        // whatever the state of the lines.
        let dest_addr = if dest.is_empty() {
            None
        } else {
            Some(self.find_address(dest)?)
        };
        if !group.is_empty() && !self.group_exists(group) {
            let mut known: Vec<String> = self
                .addresses
                .values()
                .flat_map(|a| a.call_groups.iter().chain(&a.pickup_groups).cloned())
                .collect();
            known.sort();
            known.dedup();
            return Err(PickupError::InvalidGroupId(format!(
                "no pickup group \"{group}\"; groups are: {}",
                known.join(", ")
            )));
        }
        if let (Some(d), false) = (dest_addr, group.is_empty()) {
            if !self.addresses[&d].call_groups.iter().any(|g| g == group) {
                return Err(PickupError::InvalidGroupId(format!(
                    "{dest} is not in group \"{group}\" (its call groups: {})",
                    self.addresses[&d].call_groups.join(", ")
                )));
            }
        }
        let kind = self.lines[&line].kind;
        if !kind.is_station_port() {
            if dest.is_empty() && group.is_empty() && self.call_waiting_situation(line) {
                self.station_in_service(line)?;
                return self.pickup_waiting(line);
            }
            return Err(PickupError::OperationUnavailable(format!(
                "{picker_number} is a {} line to the central office: it can only reach a waiting call; \
                 pick up from a station instead",
                kind.as_str()
            )));
        }
        if dest_addr.is_none()
            && !group.is_empty()
            && !pickup_groups.iter().any(|g| g == group)
            && cap & addr_cap_flags::PICKUPGROUPID == 0
        {
            return Err(PickupError::OperationUnavailable(format!(
                "{picker_number} may pick up only in its own groups ({}); set pickup_other_groups = true for it to pick up in \"{group}\"",
                pickup_groups.join(", ")
            )));
        }
        self.station_in_service(line)?;

        let target = match (dest_addr, group.is_empty()) {
            (Some(d), _) => {
                if d == picker {
                    return Err(PickupError::NothingToPickUp(format!(
                        "{dest} is this address's own number; answer its call instead of picking it up"
                    )));
                }
                let d_line = self.addresses[&d].line;
                let d_is_station = self
                    .lines
                    .get(&d_line)
                    .is_some_and(|l| l.kind.is_station_port());
                self.oldest(|c| self.pickable_alerting(c, picker, line) && c.address == d)
                    .or_else(|| {
                        if d_is_station {
                            self.oldest(|c| {
                                self.pickable_alerting(c, picker, line)
                                    && self.rings_station(c, d_line)
                            })
                        } else {
                            None
                        }
                    })
                    .ok_or_else(|| {
                        PickupError::NothingToPickUp(format!("nothing is alerting at {dest}"))
                    })?
            }
            (None, false) => {
                let groups = [group.to_string()];
                self.oldest(|c| {
                    self.pickable_alerting(c, picker, line) && self.in_groups(c, &groups)
                })
                .ok_or_else(|| {
                    PickupError::NothingToPickUp(format!(
                        "nothing is alerting in group \"{group}\""
                    ))
                })?
            }
            (None, true) => {
                if self.call_waiting_situation(line) {
                    return self.pickup_waiting(line);
                }
                if let Some(held) = self.oldest(|c| self.held_pickable_by(c, line)) {
                    held
                } else {
                    self.oldest(|c| self.pickable_alerting(c, picker, line) && self.in_groups(c, &pickup_groups))
                        .ok_or_else(|| {
                            PickupError::NothingToPickUp(format!(
                                "nothing to pick up at {picker_number}: no call waiting, no held call on its line keys, \
                                 nothing alerting in {}",
                                if pickup_groups.is_empty() {
                                    "its pickup groups (it has none)".to_string()
                                } else {
                                    format!("group {}", pickup_groups.join(", "))
                                }
                            ))
                        })?
                }
            }
        };
        if self.station_busy(line) {
            return Err(PickupError::ResourceUnavailable(format!(
                "{} is in a call; hang up, or hold that call, before picking up another",
                self.line_name(line)
            )));
        }
        Ok(self.take_call(target, picker, line))
    }

    /// The call-waiting case. Every call `Pickup` returns has Reason
    /// PICKUP, also a call the office held (the flash swaps back to it).
    fn pickup_waiting(&mut self, line: LineId) -> Result<CallId, PickupError> {
        let id = self.flash_to_waiting(line)?;
        self.set_reason(id, call_reason::PICKUP);
        Ok(id)
    }

    /// Move a call to the picker's station: the old object ends with
    /// LINEDISCONNECTMODE_PICKUP and a new one (Reason PICKUP) takes over.
    fn take_call(&mut self, old: CallId, picker: AddressId, line: LineId) -> CallId {
        let c = self.calls[&old].clone();
        let keep_address = self.addresses.get(&c.address).is_some_and(|a| {
            a.sharing == address_sharing::BRIDGEDEXCL && a.appearances.contains(&line)
        });
        let address = if keep_address { c.address } else { picker };
        let off_hook = self.lines.get(&line).is_some_and(|l| l.off_hook);
        self.end_call(old, disconnect_mode::PICKUP);
        let carrier = match c.carrier {
            Carrier::Internal { peer, .. } => Carrier::Internal {
                peer,
                placing: false,
            },
            other => other,
        };
        // Off hook (listening to dial tone or having dialled the code): the
        // call is answered at once; on hook, the picker's phone rings.
        let state = if off_hook {
            cs::CONNECTED
        } else {
            cs::OFFERING
        };
        let called_number = c.called_number.clone();
        let id = self.create_call_with(
            address,
            Some(line),
            state,
            call_reason::PICKUP,
            c.direction,
            (c.caller_number.clone(), c.caller_name.clone()),
            carrier,
            c.tag,
            |n| n.called_number = called_number,
        );
        if let Carrier::Internal { peer, .. } = c.carrier {
            if let Some(p) = self.calls.get_mut(&peer) {
                p.carrier = Carrier::Internal {
                    peer: id,
                    placing: true,
                };
            }
        }
        if let Some(l) = self.lines.get_mut(&line) {
            l.dialing = None;
            l.reorder = false;
        }
        if off_hook {
            if let Carrier::Internal { peer, .. } = carrier {
                if self
                    .calls
                    .get(&peer)
                    .is_some_and(|p| p.state != cs::CONNECTED)
                {
                    self.set_state(peer, cs::CONNECTED, 0);
                }
            }
        }
        id
    }

    /// `LINEADDRFEATURE_*` of an address now.
    pub(super) fn features_of(&self, a: AddressId) -> u32 {
        let Some(addr) = self.addresses.get(&a) else {
            return 0;
        };
        let line = addr.line;
        let Some(l) = self.lines.get(&line) else {
            return 0;
        };
        if l.state != LineState::InService {
            return 0;
        }
        let mut f = 0;
        if self.call_waiting_situation(line) {
            f |= addr_feature::PICKUPWAITING;
        }
        if l.kind.is_station_port() && !self.station_busy(line) {
            if self.calls.values().any(|c| self.held_pickable_by(c, line)) {
                f |= addr_feature::PICKUPHELD;
            }
            let mut direct = false;
            let mut group = false;
            for c in self.calls.values() {
                if self.pickable_alerting(c, a, line) {
                    direct = true;
                    group |= self.in_groups(c, &addr.pickup_groups);
                }
            }
            if direct {
                f |= addr_feature::PICKUPDIRECT;
            }
            if group {
                f |= addr_feature::PICKUPGROUP;
            }
        }
        if f != 0 {
            f |= addr_feature::PICKUP;
        }
        f
    }
}
