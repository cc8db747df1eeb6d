//! TAPI 2.x numeric values used throughout the API, with their names so
//! tools can decode them for people.

/// A named flag or value: `(value, NAME)`.
pub type Named = (u32, &'static str);

macro_rules! tapi_values {
    ($(#[$meta:meta])* $module:ident { $($name:ident = $value:expr),+ $(,)? }) => {
        $(#[$meta])*
        pub mod $module {
            $(pub const $name: u32 = $value;)+
            /// Every value with its TAPI name, in numeric order.
            pub const ALL: &[super::Named] = &[$(($value, stringify!($name))),+];
        }
    };
}

tapi_values!(
    /// `LINECALLSTATE_*`
    call_state {
        IDLE = 0x1, OFFERING = 0x2, ACCEPTED = 0x4, DIALTONE = 0x8, DIALING = 0x10,
        RINGBACK = 0x20, BUSY = 0x40, SPECIALINFO = 0x80, CONNECTED = 0x100,
        PROCEEDING = 0x200, ONHOLD = 0x400, CONFERENCED = 0x800,
        ONHOLDPENDCONF = 0x1000, ONHOLDPENDTRANSFER = 0x2000,
        DISCONNECTED = 0x4000, UNKNOWN = 0x8000,
    }
);

tapi_values!(
    /// `LINECALLREASON_*`
    call_reason {
        DIRECT = 0x1, FWDBUSY = 0x2, FWDNOANSWER = 0x4, FWDUNCOND = 0x8, PICKUP = 0x10,
        UNPARK = 0x20, REDIRECT = 0x40, CALLCOMPLETION = 0x80, TRANSFER = 0x100,
        REMINDER = 0x200, UNKNOWN = 0x400, UNAVAIL = 0x800,
    }
);

tapi_values!(
    /// `LINEDISCONNECTMODE_*`
    disconnect_mode {
        NORMAL = 0x1, UNKNOWN = 0x2, REJECT = 0x4, PICKUP = 0x8, FORWARDED = 0x10,
        BUSY = 0x20, NOANSWER = 0x40, BADADDRESS = 0x80, UNREACHABLE = 0x100,
        CONGESTION = 0x200, INCOMPATIBLE = 0x400, UNAVAIL = 0x800,
        NODIALTONE = 0x1000, OUTOFORDER = 0x4000, TEMPFAILURE = 0x8000,
        CANCELLED = 0x80000,
    }
);

tapi_values!(
    /// `LINEADDRESSSHARING_*`
    address_sharing {
        PRIVATE = 0x1, BRIDGEDEXCL = 0x2, BRIDGEDNEW = 0x4, BRIDGEDSHARED = 0x8,
        MONITORED = 0x10,
    }
);

tapi_values!(
    /// `LINEADDRCAPFLAGS_*` that pickupd reports.
    addr_cap_flags {
        PICKUPGROUPID = 0x2, PICKUPCALLWAIT = 0x0040_0000,
    }
);

tapi_values!(
    /// `LINEADDRFEATURE_*` that pickupd reports.
    addr_feature {
        PICKUP = 0x4, PICKUPHELD = 0x100, PICKUPGROUP = 0x200, PICKUPDIRECT = 0x400,
        PICKUPWAITING = 0x800,
    }
);

/// Name of a single value (`CONNECTED`), or its hex form when unknown.
pub fn name_of(table: &[Named], value: u32) -> String {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("0x{value:x}"))
}

/// Names of every bit set in a flag word; unknown bits are shown in hex.
pub fn flag_names(table: &[Named], value: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = value;
    for (bit, name) in table {
        if value & bit != 0 {
            names.push((*name).to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("0x{rest:x}"));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_to_names() {
        assert_eq!(name_of(call_state::ALL, 0x100), "CONNECTED");
        assert_eq!(name_of(call_state::ALL, 0x3), "0x3");
        assert_eq!(
            name_of(disconnect_mode::ALL, disconnect_mode::PICKUP),
            "PICKUP"
        );
        assert_eq!(
            flag_names(addr_feature::ALL, 0x4 | 0x400 | 0x1_0000),
            vec!["PICKUP", "PICKUPDIRECT", "0x10000"]
        );
        assert!(flag_names(addr_cap_flags::ALL, 0).is_empty());
    }

    #[test]
    fn tapi_numbers_are_the_documented_ones() {
        assert_eq!(call_state::DISCONNECTED, 0x4000);
        assert_eq!(call_reason::PICKUP, 0x10);
        assert_eq!(disconnect_mode::CANCELLED, 0x80000);
        assert_eq!(addr_cap_flags::PICKUPCALLWAIT, 0x00400000);
        assert_eq!(addr_feature::PICKUPWAITING, 0x800);
    }
}
