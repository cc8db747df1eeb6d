//! The enumerations that CSTA carries as identifier text in XML: event
//! causes, connection states and the values of `CSTAErrorCode`.
//!
//! ECMA-323 writes an enumerated value as its ASN.1 identifier (`callPickup`),
//! ECMA-285 (BER) as its number (11). Every enumeration here keeps both, so the
//! same type serves the XML codec and a future BER codec, and log lines can
//! show the number a trace of the switch shows. Switches add values of their
//! own; those decode to `Other` instead of failing the whole message, because
//! losing an event over an unknown cause would be worse than not knowing why.

/// Defines enumerations with their XML identifier and ASN.1 number, plus an
/// `Other` variant for values this table does not know.
macro_rules! csta_enums {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $($variant:ident = $code:literal => $text:literal,)*
        }
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "` (", stringify!($code), ")")]
                $variant,
            )*
            /// A value this table does not know (vendor extension or a later
            /// edition), kept as its identifier text.
            Other(String),
        }

        impl $name {
            /// Every known value, in the order of the ASN.1 module.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The identifier as ECMA-323 writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s.as_str(),
                }
            }

            /// The ASN.1 value (ECMA-285), or `None` for [`Self::Other`].
            pub fn code(&self) -> Option<u32> {
                match self {
                    $($name::$variant => Some($code),)*
                    $name::Other(_) => None,
                }
            }

            /// The value for an identifier; unknown identifiers become
            /// [`Self::Other`] (see the module documentation for why).
            pub fn from_name(name: &str) -> Self {
                match name {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            /// The value for an ASN.1 number, if the table knows it.
            pub fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

// Generated from the ECMA-285 enumerations (CSTA Phase III ASN.1); names are the
// XML identifiers of ECMA-323, numbers the ASN.1 values.

csta_enums! {
    /// Why an event happened (ECMA-285 `EventCause`); a pickup is reported with [`EventCause::CallPickup`] (11).
    EventCause {
        ACDBusy = 57 => "aCDBusy",
        ACDForward = 58 => "aCDForward",
        ACDSaturated = 59 => "aCDSaturated",
        Activation = 88 => "activation",
        ActiveParticipation = 1 => "activeParticipation",
        AlertTimeExpired = 60 => "alertTimeExpired",
        Alternate = 2 => "alternate",
        AutoWork = 61 => "autoWork",
        Babble = 89 => "babble",
        BadAttribute = 90 => "badAttribute",
        BadGrammar = 91 => "badGrammar",
        BadVoice = 92 => "badVoice",
        BadUri = 93 => "badUri",
        Blocked = 35 => "blocked",
        Busy = 3 => "busy",
        BusyOverflow = 94 => "busyOverflow",
        CalendarOverflow = 95 => "calendarOverflow",
        CallBack = 4 => "callBack",
        CallCancelled = 5 => "callCancelled",
        CallForward = 9 => "callForward",
        CallForwardImmediate = 6 => "callForwardImmediate",
        CallForwardBusy = 7 => "callForwardBusy",
        CallForwardNoAnswer = 8 => "callForwardNoAnswer",
        CallInterception = 116 => "callInterception",
        CallInterceptionBusy = 117 => "callInterceptionBusy",
        CallInterceptionForwarded = 118 => "callInterceptionForwarded",
        CallInterceptionNoAnswer = 119 => "callInterceptionNoAnswer",
        CallInterceptionResourcesNotAvailable = 120 => "callInterceptionResourcesNotAvailable",
        CallNotAnswered = 10 => "callNotAnswered",
        CallPickup = 11 => "callPickup",
        CampOn = 12 => "campOn",
        CampOnTrunks = 62 => "campOnTrunks",
        CapacityOverflow = 96 => "capacityOverflow",
        CharacterCountReached = 36 => "characterCountReached",
        Conference = 63 => "conference",
        Consultation = 37 => "consultation",
        DestDetected = 64 => "destDetected",
        DestNotObtainable = 13 => "destNotObtainable",
        DestOutOfOrder = 65 => "destOutOfOrder",
        Distributed = 38 => "distributed",
        DistributionDelay = 66 => "distributionDelay",
        DoNotDisturb = 14 => "doNotDisturb",
        DTMFDigitDetected = 39 => "dTMFDigitDetected",
        DuplicateDTMF = 97 => "duplicateDTMF",
        DurationExceeded = 40 => "durationExceeded",
        EarlyStop = 98 => "earlyStop",
        EmptyQueue = 99 => "emptyQueue",
        EndOfMessageDetected = 41 => "endOfMessageDetected",
        EnteringDistribution = 42 => "enteringDistribution",
        ForcedPause = 43 => "forcedPause",
        ForcedTransition = 67 => "forcedTransition",
        IncompatibleDestination = 15 => "incompatibleDestination",
        InterDigitTimeout = 100 => "interDigitTimeout",
        Intrude = 68 => "intrude",
        InvalidAccountCode = 16 => "invalidAccountCode",
        InvalidConnection = 101 => "invalidConnection",
        InvalidConnectionState = 102 => "invalidConnectionState",
        InvalidNumberFormat = 69 => "invalidNumberFormat",
        JoinCall = 70 => "joinCall",
        KeyOperation = 17 => "keyOperation",
        KeyOperationInUse = 71 => "keyOperationInUse",
        LawfulInterception = 121 => "lawfulInterception",
        Lockout = 18 => "lockout",
        Maintenance = 19 => "maintenance",
        MakeCall = 44 => "makeCall",
        MakeConnection = 103 => "makeConnection",
        MakePredictiveCall = 72 => "makePredictiveCall",
        MaxTimeout = 104 => "maxTimeout",
        MessageDurationExceeded = 73 => "messageDurationExceeded",
        MessageSizeExceeded = 45 => "messageSizeExceeded",
        MultipleAlerting = 74 => "multipleAlerting",
        MultipleQueuing = 75 => "multipleQueuing",
        NetworkCongestion = 20 => "networkCongestion",
        NetworkDialling = 76 => "networkDialling",
        NetworkNotObtainable = 21 => "networkNotObtainable",
        NetworkOutOfOrder = 77 => "networkOutOfOrder",
        NetworkSignal = 46 => "networkSignal",
        NewCall = 22 => "newCall",
        NextMessage = 47 => "nextMessage",
        NoAudioSaved = 105 => "noAudioSaved",
        NoAvailableAgents = 23 => "noAvailableAgents",
        NoQueue = 106 => "noQueue",
        Normal = 78 => "normal",
        NormalClearing = 48 => "normalClearing",
        NoRule = 107 => "noRule",
        NoSpeechDetected = 49 => "noSpeechDetected",
        NotAvaliableBearerService = 79 => "notAvaliableBearerService",
        NotSupportedBearerService = 80 => "notSupportedBearerService",
        NumberChanged = 50 => "numberChanged",
        NumberUnallocated = 81 => "numberUnallocated",
        OutOfGrammar = 108 => "outOfGrammar",
        Overflow = 26 => "overflow",
        Override = 24 => "override",
        Park = 25 => "park",
        PathReplacement = 109 => "pathReplacement",
        QueueCleared = 82 => "queueCleared",
        QueueTimeOverflow = 110 => "queueTimeOverflow",
        Recall = 27 => "recall",
        RecallBusy = 111 => "recallBusy",
        RecallForwarded = 112 => "recallForwarded",
        RecallNoAnswer = 113 => "recallNoAnswer",
        RecallResourcesNotAvailable = 114 => "recallResourcesNotAvailable",
        Redirected = 28 => "redirected",
        RemainsInQueue = 83 => "remainsInQueue",
        ReorderTone = 29 => "reorderTone",
        Reserved = 84 => "reserved",
        ResourcesNotAvailable = 30 => "resourcesNotAvailable",
        SelectedTrunkBusy = 85 => "selectedTrunkBusy",
        SilentParticipation = 31 => "silentParticipation",
        SingleStepConference = 51 => "singleStepConference",
        SingleStepTransfer = 52 => "singleStepTransfer",
        SpeechDetected = 53 => "speechDetected",
        Suspend = 86 => "suspend",
        SwitchingFunctionTerminated = 54 => "switchingFunctionTerminated",
        TerminationCharacterReceived = 55 => "terminationCharacterReceived",
        Timeout = 56 => "timeout",
        Transfer = 32 => "transfer",
        TrunksBusy = 33 => "trunksBusy",
        UnauthorisedBearerService = 87 => "unauthorisedBearerService",
        UnknownOverflow = 115 => "unknownOverflow",
    }
    /// `operation` errors of `CSTAErrorCode`: the request itself was wrong for the switch (bad identifiers, unsupported parameters, privilege violations, incompatible objects).
    OperationError {
        Generic = 1 => "generic",
        AtLeastOneConditionalParameterNotProvided = 29 => "atLeastOneConditionalParameterNotProvided",
        FeatureAlreadySet = 30 => "featureAlreadySet",
        InvalidMsgID = 25 => "invalidMsgID",
        InvalidParameterValue = 31 => "invalidParameterValue",
        InvalidAccountCode = 21 => "invalidAccountCode",
        InvalidAgentGroup = 32 => "invalidAgentGroup",
        InvalidAgentIdentifier = 33 => "invalidAgentIdentifier",
        InvalidAgentPassword = 34 => "invalidAgentPassword",
        InvalidAgentState = 35 => "invalidAgentState",
        InvalidAlertTime = 36 => "invalidAlertTime",
        InvalidAllocationState = 16 => "invalidAllocationState",
        InvalidAuthCode = 22 => "invalidAuthCode",
        InvalidAutoAnswer = 37 => "invalidAutoAnswer",
        InvalidBitRate = 38 => "invalidBitRate",
        InvalidButtonIdentifier = 39 => "invalidButtonIdentifier",
        InvalidCallType = 42 => "invalidCallType",
        InvalidConnectionRate = 43 => "invalidConnectionRate",
        InvalidConsultPurpose = 44 => "invalidConsultPurpose",
        InvalidCorrelatorData = 20 => "invalidCorrelatorData",
        InvalidCrossRefID = 17 => "invalidCrossRefID",
        InvalidDelayTolerance = 45 => "invalidDelayTolerance",
        InvalidDestination = 14 => "invalidDestination",
        InvalidDestinationDetect = 46 => "invalidDestinationDetect",
        InvalidDoNotDisturb = 47 => "invalidDoNotDisturb",
        InvalidEscapeCrossRefID = 48 => "invalidEscapeCrossRefID",
        InvalidFeature = 15 => "invalidFeature",
        InvalidFile = 28 => "invalidFile",
        InvalidFlowDirection = 49 => "invalidFlowDirection",
        InvalidForwardingDestination = 7 => "invalidForwardingDestination",
        InvalidForwardingFlag = 51 => "invalidForwardingFlag",
        InvalidForwardingType = 52 => "invalidForwardingType",
        InvalidHookswitchType = 53 => "invalidHookswitchType",
        InvalidHookswitchComponent = 54 => "invalidHookswitchComponent",
        InvalidLampMode = 55 => "invalidLampMode",
        InvalidLampID = 56 => "invalidLampID",
        InvalidMessageWaitingSetting = 57 => "invalidMessageWaitingSetting",
        InvalidMicrophoneGain = 58 => "invalidMicrophoneGain",
        InvalidMicrophoneMute = 59 => "invalidMicrophoneMute",
        InvalidMonitorCrossRefID = 60 => "invalidMonitorCrossRefID",
        InvalidMonitorFilter = 61 => "invalidMonitorFilter",
        InvalidMonitorObject = 62 => "invalidMonitorObject",
        InvalidMonitorType = 63 => "invalidMonitorType",
        InvalidNumberOFChannels = 64 => "invalidNumberOFChannels",
        InvalidParticipationType = 65 => "invalidParticipationType",
        InvalidRemainRetry = 66 => "invalidRemainRetry",
        InvalidRingCount = 67 => "invalidRingCount",
        InvalidRingPattern = 68 => "invalidRingPattern",
        InvalidRingVolume = 69 => "invalidRingVolume",
        InvalidRouteingAlgorithm = 70 => "invalidRouteingAlgorithm",
        InvalidRouteingCrossRefID = 71 => "invalidRouteingCrossRefID",
        InvalidRouteRegistrationCrossRefID = 72 => "invalidRouteRegistrationCrossRefID",
        InvalidSpeakerVolume = 73 => "invalidSpeakerVolume",
        InvalidSpeakerMute = 74 => "invalidSpeakerMute",
        InvalidSwitchingSubdomainCharsType = 75 => "invalidSwitchingSubdomainCharsType",
        InvalidObjectType = 18 => "invalidObjectType",
        InvalidActiveCallObject = 76 => "invalidActiveCallObject",
        InvalidCalledDeviceObjectType = 77 => "invalidCalledDeviceObjectType",
        InvalidCallingDeviceObjectType = 78 => "invalidCallingDeviceObjectType",
        InvalidCallToBePickedUpObjectType = 79 => "invalidCallToBePickedUpObjectType",
        InvalidCallToDivertObjectType = 80 => "invalidCallToDivertObjectType",
        InvalidCallToParkObjectType = 81 => "invalidCallToParkObjectType",
        InvalidDestinationDeviceObject = 195 => "invalidDestinationDeviceObject",
        InvalidHeldCallObject = 82 => "invalidHeldCallObject",
        InvalidMonitorObjectType = 83 => "invalidMonitorObjectType",
        InvalidParkToObjectType = 84 => "invalidParkToObjectType",
        MessageIDRequired = 26 => "messageIDRequired",
        NotDifferentDevices = 85 => "notDifferentDevices",
        NotSameDevice = 86 => "notSameDevice",
        ObjectNotKnown = 4 => "objectNotKnown",
        InvalidCallID = 11 => "invalidCallID",
        InvalidActiveCallID = 87 => "invalidActiveCallID",
        InvalidHeldCallID = 88 => "invalidHeldCallID",
        InvalidConnectionID = 13 => "invalidConnectionID",
        InvalidActiveConnectionID = 89 => "invalidActiveConnectionID",
        InvalidHeldConnectionID = 90 => "invalidHeldConnectionID",
        InvalidDeviceID = 12 => "invalidDeviceID",
        InvalidActiveDeviceID = 91 => "invalidActiveDeviceID",
        InvalidCalledDeviceID = 6 => "invalidCalledDeviceID",
        InvalidCallingDeviceID = 5 => "invalidCallingDeviceID",
        InvalidCallToParkDeviceID = 92 => "invalidCallToParkDeviceID",
        InvalidDestinationDeviceID = 93 => "invalidDestinationDeviceID",
        InvalidDivertingDeviceID = 94 => "invalidDivertingDeviceID",
        InvalidHeldDeviceID = 95 => "invalidHeldDeviceID",
        InvalidParkToDeviceID = 96 => "invalidParkToDeviceID",
        InvalidPickUpDeviceID = 97 => "invalidPickUpDeviceID",
        ParameterNotSupported = 98 => "parameterNotSupported",
        AccountCodeNotSupported = 99 => "accountCodeNotSupported",
        AgentGroupNotSupported = 100 => "agentGroupNotSupported",
        AgentPasswordNotSupported = 101 => "agentPasswordNotSupported",
        AgentStateNotSupported = 102 => "agentStateNotSupported",
        AlertTimeNotSupported = 103 => "alertTimeNotSupported",
        AllocationNotSupported = 104 => "allocationNotSupported",
        AuthorisationCodeNotSupported = 105 => "authorisationCodeNotSupported",
        AutoAnswerNotSupported = 106 => "autoAnswerNotSupported",
        BitRateNotSupported = 107 => "bitRateNotSupported",
        ButtonNotSupported = 108 => "buttonNotSupported",
        CallTypeNotSupported = 109 => "callTypeNotSupported",
        CharactersToSendNotSupported = 110 => "charactersToSendNotSupported",
        ConnectionRateNotSupported = 111 => "connectionRateNotSupported",
        ConnectionReservationNotSupported = 112 => "connectionReservationNotSupported",
        ConsultPurposeNotSupported = 113 => "consultPurposeNotSupported",
        CorrelatorDataNotSupported = 114 => "correlatorDataNotSupported",
        DelayToleranceNotSupported = 115 => "delayToleranceNotSupported",
        DestinationDetectNotSupported = 116 => "destinationDetectNotSupported",
        DigitModeNotSupported = 117 => "digitModeNotSupported",
        ErrorValueNotSupported = 118 => "errorValueNotSupported",
        FlowDirectionNotSupported = 119 => "flowDirectionNotSupported",
        ForwardingDestinationNotSupported = 120 => "forwardingDestinationNotSupported",
        LampNotSupported = 121 => "lampNotSupported",
        MonitorTypeNotSupported = 122 => "monitorTypeNotSupported",
        NumberOfChannelsNotSupported = 123 => "numberOfChannelsNotSupported",
        ParameterTypeNotSupported = 124 => "parameterTypeNotSupported",
        PriorityNotSupported = 125 => "priorityNotSupported",
        PrivateDataNotSupported = 126 => "privateDataNotSupported",
        PulseDurationNotSupported = 127 => "pulseDurationNotSupported",
        PulseRateNotSupported = 128 => "pulseRateNotSupported",
        RemainRetryNotSupported = 129 => "remainRetryNotSupported",
        RingCountNotSupported = 130 => "ringCountNotSupported",
        RouteUsedNotSupported = 131 => "routeUsedNotSupported",
        SecurityNotSupported = 132 => "securityNotSupported",
        SwSubdomainCCIETypeNotSupported = 133 => "swSubdomainCCIETypeNotSupported",
        ToneDurationNotSupported = 134 => "toneDurationNotSupported",
        SysStatRegIDNotSupported = 135 => "sysStatRegIDNotSupported",
        UserDataNotSupported = 136 => "userDataNotSupported",
        PrivilegeViolationSpecifiedDevice = 8 => "privilegeViolationSpecifiedDevice",
        PrivilegeViolationActiveDevice = 137 => "privilegeViolationActiveDevice",
        PrivilegeViolationCalledDevice = 9 => "privilegeViolationCalledDevice",
        PrivilegeViolationCallingDevice = 10 => "privilegeViolationCallingDevice",
        PrivilegeViolationCallToParkDevice = 138 => "privilegeViolationCallToParkDevice",
        PrivilegeViolationDestinationDevice = 139 => "privilegeViolationDestinationDevice",
        PrivilegeViolationOnDivertingDevice = 140 => "privilegeViolationOnDivertingDevice",
        PrivilegeViolationHeldDevice = 141 => "privilegeViolationHeldDevice",
        PrivilegeViolationOnParkToDevice = 142 => "privilegeViolationOnParkToDevice",
        PrivilegeViolationPickUpDevice = 143 => "privilegeViolationPickUpDevice",
        RouteingTimerExpired = 144 => "routeingTimerExpired",
        RequestIncompatibleWithObject = 2 => "requestIncompatibleWithObject",
        RequestIncompatibleWithConnection = 145 => "requestIncompatibleWithConnection",
        RequestIncompatibleWithActiveConnection = 146 => "requestIncompatibleWithActiveConnection",
        RequestIncompatibleWithHeldConnection = 147 => "requestIncompatibleWithHeldConnection",
        RequestIncompatibleWithDevice = 148 => "requestIncompatibleWithDevice",
        RequestIncompatibleWithCalledDevice = 24 => "requestIncompatibleWithCalledDevice",
        RequestIncompatibleWithCallingDevice = 23 => "requestIncompatibleWithCallingDevice",
        RequestIncompatibleWithSubjectDevice = 149 => "requestIncompatibleWithSubjectDevice",
        RequestIncompatibleWithActiveDevice = 150 => "requestIncompatibleWithActiveDevice",
        RequestIncompatibleWithCallToParkDevice = 151 => "requestIncompatibleWithCallToParkDevice",
        RequestIncompatibleWithDestinationDevice = 152 => "requestIncompatibleWithDestinationDevice",
        RequestIncompatibleWithDivertingDevice = 153 => "requestIncompatibleWithDivertingDevice",
        RequestIncompatibleWithHeldDevice = 154 => "requestIncompatibleWithHeldDevice",
        RequestIncompatibleWithMedia = 27 => "requestIncompatibleWithMedia",
        RequestIncompatibleWithParkToDevice = 155 => "requestIncompatibleWithParkToDevice",
        RequestIncompatibleWithPickupDevice = 156 => "requestIncompatibleWithPickupDevice",
        ServiceNotSupported = 50 => "serviceNotSupported",
        SecurityViolation = 19 => "securityViolation",
        ValueOutOfRange = 3 => "valueOutOfRange",
        AgentStateOutOfRange = 157 => "agentStateOutOfRange",
        AlertTimeOutOfRange = 158 => "alertTimeOutOfRange",
        AllocationOutOfRange = 159 => "allocationOutOfRange",
        AutoAnswerOutOfRange = 160 => "autoAnswerOutOfRange",
        BitRateOutOfRange = 161 => "bitRateOutOfRange",
        CallTypeOutOfRange = 162 => "callTypeOutOfRange",
        ConnectionRateOutOfRange = 163 => "connectionRateOutOfRange",
        ConnectionReservoationOutOfRange = 164 => "connectionReservoationOutOfRange",
        ConsultPurposeOutOfRange = 165 => "consultPurposeOutOfRange",
        CorrelatorDataOutOfRange = 166 => "correlatorDataOutOfRange",
        DelayToleranceOutOfRange = 167 => "delayToleranceOutOfRange",
        DestinationDetectOutOfRange = 168 => "destinationDetectOutOfRange",
        DigitModeOutOfRange = 169 => "digitModeOutOfRange",
        DoNotDisturbOutOfRange = 170 => "doNotDisturbOutOfRange",
        FlowDirectionOutOfRange = 171 => "flowDirectionOutOfRange",
        ForwardingFlagOutOfRange = 172 => "forwardingFlagOutOfRange",
        ForwardingTypeOutOfRange = 173 => "forwardingTypeOutOfRange",
        HookswitchComponentOutOfRange = 174 => "hookswitchComponentOutOfRange",
        HookswitchTypeOutOfRange = 175 => "hookswitchTypeOutOfRange",
        LampModeOutOfRange = 176 => "lampModeOutOfRange",
        MessageWaitingSettingOutOfRange = 177 => "messageWaitingSettingOutOfRange",
        MicGainOutOfRange = 178 => "micGainOutOfRange",
        MicMuteOutOfRange = 179 => "micMuteOutOfRange",
        MonitorTypeOutOfRange = 180 => "monitorTypeOutOfRange",
        NumberOfChannelsOutOfRange = 181 => "numberOfChannelsOutOfRange",
        ParticipationTypeOutOfRange = 182 => "participationTypeOutOfRange",
        PulseDurationOutOfRange = 183 => "pulseDurationOutOfRange",
        PulseRateOutOfRange = 184 => "pulseRateOutOfRange",
        RingCountOutOfRange = 185 => "ringCountOutOfRange",
        RingPatternOutOfRange = 186 => "ringPatternOutOfRange",
        RingVolumnOutOfRange = 187 => "ringVolumnOutOfRange",
        RouteingAlgorithmOutOfRange = 188 => "routeingAlgorithmOutOfRange",
        SpeakerMuteOutOfRange = 189 => "speakerMuteOutOfRange",
        SpeakerVolumeOutOfRange = 190 => "speakerVolumeOutOfRange",
        SwitchingCcittTypeOutOfRange = 191 => "switchingCcittTypeOutOfRange",
        SystemStatusOutOfRange = 192 => "systemStatusOutOfRange",
        ToneCharacterOutOfRange = 193 => "toneCharacterOutOfRange",
        ToneDurationOutOfRange = 194 => "toneDurationOutOfRange",
    }
    /// `security` errors of `CSTAErrorCode`.
    SecurityError {
        Generic = 0 => "generic",
        SequenceNumberViolated = 1 => "sequenceNumberViolated",
        TimeStampViolated = 2 => "timeStampViolated",
        SecurityInfoViolated = 4 => "securityInfoViolated",
    }
    /// `stateIncompatibility` errors of `CSTAErrorCode`: the objects exist but are not in a state that allows the service.
    StateIncompatibilityError {
        Generic = 1 => "generic",
        InvalidObjectState = 2 => "invalidObjectState",
        InvalidDeviceState = 15 => "invalidDeviceState",
        ConnectedCallExists = 16 => "connectedCallExists",
        InvalidActiveDeviceState = 17 => "invalidActiveDeviceState",
        InvalidCalledDeviceState = 18 => "invalidCalledDeviceState",
        InvalidCallingDeviceState = 19 => "invalidCallingDeviceState",
        InvalidCallToParkDeviceState = 20 => "invalidCallToParkDeviceState",
        InvalidDestinationDeviceState = 21 => "invalidDestinationDeviceState",
        InvalidDivertingDeviceState = 22 => "invalidDivertingDeviceState",
        InvalidHeldDeviceState = 23 => "invalidHeldDeviceState",
        InvalidParkToDeviceState = 24 => "invalidParkToDeviceState",
        InvalidConnectionState = 25 => "invalidConnectionState",
        InvalidActiveConnectionState = 26 => "invalidActiveConnectionState",
        InvalidConnectionIDForActiveCall = 3 => "invalidConnectionIDForActiveCall",
        InvalidHeldConnectionState = 27 => "invalidHeldConnectionState",
        NoActiveCall = 4 => "noActiveCall",
        NoCallToAnswer = 8 => "noCallToAnswer",
        NoCallToClear = 6 => "noCallToClear",
        NoCallToComplete = 9 => "noCallToComplete",
        NoConnectionToClear = 7 => "noConnectionToClear",
        NoHeldCall = 5 => "noHeldCall",
        IncorrectMsgState = 28 => "incorrectMsgState",
        BeginningOfMsg = 13 => "beginningOfMsg",
        EndOfMsg = 12 => "endOfMsg",
        MsgSuspended = 14 => "msgSuspended",
        NotAbleToPlay = 10 => "notAbleToPlay",
        NotAbleToResume = 11 => "notAbleToResume",
    }
    /// `systemResourceAvailability` errors of `CSTAErrorCode`: the switch lacks a resource or a device is out of service.
    SystemResourceError {
        Generic = 1 => "generic",
        ResourceBusy = 2 => "resourceBusy",
        InternalResourceBusy = 3 => "internalResourceBusy",
        ClassifierBusy = 9 => "classifierBusy",
        NoMediaChannelsAvailable = 10 => "noMediaChannelsAvailable",
        ChannelsInUseForBridgedDevices = 11 => "channelsInUseForBridgedDevices",
        ChannelsInUseForData = 12 => "channelsInUseForData",
        ToneDetectorBusy = 13 => "toneDetectorBusy",
        ToneGeneratorBusy = 14 => "toneGeneratorBusy",
        NetworkBusy = 5 => "networkBusy",
        ResourceOutOfService = 4 => "resourceOutOfService",
        DeviceOutOfService = 15 => "deviceOutOfService",
        ActiveDeviceOutOfService = 16 => "activeDeviceOutOfService",
        CalledDeviceOutOfService = 17 => "calledDeviceOutOfService",
        CallingDeviceOutOfService = 18 => "callingDeviceOutOfService",
        CallToParkDeviceOutOfService = 19 => "callToParkDeviceOutOfService",
        DestinationDeviceOutOfService = 20 => "destinationDeviceOutOfService",
        DivertingDeviceOutOfService = 21 => "divertingDeviceOutOfService",
        HeldDeviceOutOfService = 22 => "heldDeviceOutOfService",
        ParkToDeviceOutOfService = 23 => "parkToDeviceOutOfService",
        PickupDeviceOutOfService = 24 => "pickupDeviceOutOfService",
        NetworkOutOfService = 6 => "networkOutOfService",
        OtherResourceOutOfService = 25 => "otherResourceOutOfService",
        ResourceLimitExceeded = 26 => "resourceLimitExceeded",
        OverallMonitorLimitExceeded = 7 => "overallMonitorLimitExceeded",
        ConferenceMemberLimitExceeded = 8 => "conferenceMemberLimitExceeded",
        RegistrationLimitExceeded = 27 => "registrationLimitExceeded",
        ConferenceResourceCannotBeSatisfied = 28 => "conferenceResourceCannotBeSatisfied",
        MaxDevicesExceeded = 29 => "maxDevicesExceeded",
        StartTimeOutOfRange = 30 => "startTimeOutOfRange",
        DurationExceeded = 31 => "durationExceeded",
    }
    /// `subscribedResourceAvailability` errors of `CSTAErrorCode`: a limit of the application's subscription was reached.
    SubscribedResourceError {
        Generic = 1 => "generic",
        ObjectMonitorLimitExceeded = 2 => "objectMonitorLimitExceeded",
        TrunkLimitExceeded = 3 => "trunkLimitExceeded",
        OutstandingReqLimitExceeded = 4 => "outstandingReqLimitExceeded",
        ObjectRegistrationLimitExceeded = 5 => "objectRegistrationLimitExceeded",
    }
    /// `performanceManagement` errors of `CSTAErrorCode`.
    PerformanceManagementError {
        Generic = 1 => "generic",
        PerformanceLimitExceeded = 2 => "performanceLimitExceeded",
    }
    /// `privateData` errors of `CSTAErrorCode`.
    PrivateDataError {
        CSTAPrivateDataInfoError = 1 => "cSTAPrivateDataInfoError",
    }
    /// The state of the monitored device's connection (`localConnectionInfo`, ECMA-285 `LocalConnectionState`).
    LocalConnectionState {
        Null = 0 => "null",
        Initiated = 1 => "initiated",
        Alerting = 2 => "alerting",
        Connected = 3 => "connected",
        Hold = 4 => "hold",
        Queued = 5 => "queued",
        Fail = 6 => "fail",
    }
}

/// The negative answer to a request: the content of `CSTAErrorCode`
/// (ECMA-285 `UniversalFailure`), one category and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CstaError {
    /// `operation`: the request was wrong for the objects it named.
    Operation(OperationError),
    /// `security`.
    Security(SecurityError),
    /// `stateIncompatibility`: right objects, wrong state.
    StateIncompatibility(StateIncompatibilityError),
    /// `systemResourceAvailability`: the switch lacks a resource.
    SystemResourceAvailability(SystemResourceError),
    /// `subscribedResourceAvailability`: a subscription limit was reached.
    SubscribedResourceAvailability(SubscribedResourceError),
    /// `performanceManagement`.
    PerformanceManagement(PerformanceManagementError),
    /// `privateData`.
    PrivateData(PrivateDataError),
    /// `unspecified`: the switch gave no reason.
    Unspecified,
}

/// What kind of refusal a [`CstaError`] is, so that the driver can map the
/// switch's answer to one of the API's errors without knowing all of the
/// nearly four hundred values (the driver still decides per service: a
/// state error on a pickup is "nothing to pick up", on a hold it is
/// "invalid call state").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A device, call, connection or cross-reference named in the request is
    /// unknown to the switch.
    UnknownObject,
    /// The objects exist but their state does not allow the service (the
    /// call stopped ringing, nothing to answer, no held call …).
    WrongState,
    /// The switch or a device lacks a resource or is out of service.
    ResourceUnavailable,
    /// The switch does not offer the service or a parameter of it for these
    /// objects.
    NotSupported,
    /// A privilege or security rule forbids it.
    NotPermitted,
    /// Any other reason, including none given.
    Failed,
}

impl CstaError {
    /// The XML element name of the category.
    pub fn category(&self) -> &'static str {
        match self {
            CstaError::Operation(_) => "operation",
            CstaError::Security(_) => "security",
            CstaError::StateIncompatibility(_) => "stateIncompatibility",
            CstaError::SystemResourceAvailability(_) => "systemResourceAvailability",
            CstaError::SubscribedResourceAvailability(_) => "subscribedResourceAvailability",
            CstaError::PerformanceManagement(_) => "performanceManagement",
            CstaError::PrivateData(_) => "privateData",
            CstaError::Unspecified => "unspecified",
        }
    }

    /// The value's identifier (`unspecified` for [`CstaError::Unspecified`]).
    pub fn value(&self) -> &str {
        match self {
            CstaError::Operation(v) => v.as_str(),
            CstaError::Security(v) => v.as_str(),
            CstaError::StateIncompatibility(v) => v.as_str(),
            CstaError::SystemResourceAvailability(v) => v.as_str(),
            CstaError::SubscribedResourceAvailability(v) => v.as_str(),
            CstaError::PerformanceManagement(v) => v.as_str(),
            CstaError::PrivateData(v) => v.as_str(),
            CstaError::Unspecified => "unspecified",
        }
    }

    /// The error for a category element name and its text; `None` if the
    /// category is not one of ECMA-285's.
    pub fn from_parts(category: &str, value: &str) -> Option<CstaError> {
        Some(match category {
            "operation" => CstaError::Operation(OperationError::from_name(value)),
            "security" => CstaError::Security(SecurityError::from_name(value)),
            "stateIncompatibility" => {
                CstaError::StateIncompatibility(StateIncompatibilityError::from_name(value))
            }
            "systemResourceAvailability" => {
                CstaError::SystemResourceAvailability(SystemResourceError::from_name(value))
            }
            "subscribedResourceAvailability" => {
                CstaError::SubscribedResourceAvailability(SubscribedResourceError::from_name(value))
            }
            "performanceManagement" => {
                CstaError::PerformanceManagement(PerformanceManagementError::from_name(value))
            }
            "privateData" => CstaError::PrivateData(PrivateDataError::from_name(value)),
            "unspecified" => CstaError::Unspecified,
            _ => return None,
        })
    }

    /// Classifies the refusal (see [`Refusal`]).
    ///
    /// Operation errors are classified by the shape of their identifier
    /// (`invalid…ID`, `…NotSupported`, `privilegeViolation…`), which is how
    /// ECMA-285 names them, so vendor values of the same shape that decode to
    /// `Other` land in the right class too.
    pub fn refusal(&self) -> Refusal {
        match self {
            CstaError::Operation(op) => classify_operation(op.as_str()),
            CstaError::Security(_) => Refusal::NotPermitted,
            CstaError::StateIncompatibility(_) => Refusal::WrongState,
            CstaError::SystemResourceAvailability(_)
            | CstaError::SubscribedResourceAvailability(_)
            | CstaError::PerformanceManagement(_) => Refusal::ResourceUnavailable,
            CstaError::PrivateData(_) | CstaError::Unspecified => Refusal::Failed,
        }
    }
}

/// See [`CstaError::refusal`].
fn classify_operation(name: &str) -> Refusal {
    let unknown_id = name == "objectNotKnown"
        || name == "invalidDestination"
        || (name.starts_with("invalid")
            && (name.ends_with("ID")
                || name.ends_with("Identifier")
                || name.ends_with("CrossRefID")));
    if unknown_id {
        Refusal::UnknownObject
    } else if name.starts_with("privilegeViolation") || name == "securityViolation" {
        Refusal::NotPermitted
    } else if name.ends_with("NotSupported") || name.starts_with("requestIncompatibleWith") {
        Refusal::NotSupported
    } else {
        Refusal::Failed
    }
}

impl std::fmt::Display for CstaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.category(), self.value())
    }
}
