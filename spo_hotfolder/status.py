"""JobStatus: the SPO job status names, one enum, spelled exactly as SPO spells them.

The list is ``seeds/002_79f26f0aacb4a3c4.txt`` (the SPO job status list), deduplicated. The daemon
sets only some of them (see SET_BY_DAEMON); the others exist so that every SPO name is known.
"""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    # Order creation & initial processing
    Nothing = "Nothing"
    Creating = "Creating"
    InBasket = "InBasket"
    Ordered = "Ordered"
    FutureOrder = "FutureOrder"
    UnapprovedOrder = "UnapprovedOrder"
    # Output generation
    OutputCreationStarted = "OutputCreationStarted"
    OutputCreated = "OutputCreated"
    OutputCreationFailed = "OutputCreationFailed"
    ExternalOutputRequested = "ExternalOutputRequested"
    ExternalOutputJobClosed = "ExternalOutputJobClosed"
    # Production workflow
    InProduction = "InProduction"
    InArtworking = "InArtworking"
    InReprographics = "InReprographics"
    InFinishing = "InFinishing"
    InPacking = "InPacking"
    Printed = "Printed"
    InHotFolder = "InHotFolder"
    CopyToHotFolderFailed = "CopyToHotFolderFailed"
    CopyToHotFolderSkipped = "CopyToHotFolderSkipped"
    # Shipping & fulfilment
    Shipped = "Shipped"
    ReadyForCollection = "ReadyForCollection"
    # Approval & validation
    AwaitingApproval = "AwaitingApproval"
    Approved = "Approved"
    PartiallyApproved = "PartiallyApproved"
    Rejected = "Rejected"
    AwaitingProof = "AwaitingProof"
    AwaitingData = "AwaitingData"
    AwaitingParts = "AwaitingParts"
    RecreationRequested = "RecreationRequested"
    Verified = "Verified"
    ValidationFinished = "ValidationFinished"
    ValidationFailed = "ValidationFailed"
    # Communication
    SentEmail = "SentEmail"
    SentEmailFailed = "SentEmailFailed"
    EmailBounced = "EmailBounced"
    EmailBouncedAndPrintJobCreated = "EmailBouncedAndPrintJobCreated"
    NoEmailBounceActionRequired = "NoEmailBounceActionRequired"
    SmsDispatching = "SmsDispatching"
    SmsDispatched = "SmsDispatched"
    # MIS integration
    MisNotified = "MisNotified"
    MisFailed = "MisFailed"
    MisNotificationRetrigger = "MisNotificationRetrigger"
    MisAdditionalActionRequired = "MisAdditionalActionRequired"
    MisManifested = "MisManifested"
    MisOrderProcessed = "MisOrderProcessed"
    MisAssetsOk = "MisAssetsOk"
    MisAssetsFailed = "MisAssetsFailed"
    MisPartiallyFailed = "MisPartiallyFailed"
    # Additional workflow statuses
    TemplateProductCreated = "TemplateProductCreated"
    TemplateProductCreationFailed = "TemplateProductCreationFailed"
    ActionRun = "ActionRun"
    CustomStatus = "CustomStatus"
    CustomStatusHidden = "CustomStatusHidden"
    Blocked = "Blocked"
    ArtworkUploaded = "ArtworkUploaded"
    JobDataDeleted = "JobDataDeleted"
    ApprovalJobUpdated = "ApprovalJobUpdated"
    OutputDelete = "OutputDelete"

    @classmethod
    def parse(cls, text: str) -> JobStatus:
        """The status named ``text``, case-insensitively; ValueError with the valid names if none."""
        for status in cls:
            if status.value.lower() == text.strip().lower():
                return status
        raise ValueError(f"unknown status {text!r}; valid names: {', '.join(s.value for s in cls)}")


#: The statuses this daemon records itself (SPEC section 6).
SET_BY_DAEMON: frozenset[JobStatus] = frozenset(
    {
        JobStatus.Ordered,
        JobStatus.FutureOrder,
        JobStatus.AwaitingData,
        JobStatus.Blocked,
        JobStatus.ValidationFinished,
        JobStatus.ValidationFailed,
        JobStatus.OutputCreationStarted,
        JobStatus.OutputCreated,
        JobStatus.OutputCreationFailed,
        JobStatus.ArtworkUploaded,
        JobStatus.RecreationRequested,
        JobStatus.Rejected,
        JobStatus.InHotFolder,
        JobStatus.CopyToHotFolderFailed,
        JobStatus.CopyToHotFolderSkipped,
        JobStatus.JobDataDeleted,
    }
)
