//! One trait per plugin kind, and the macros that export an implementation as a component.

use std::cell::RefCell;

use crate::__private::kpi_calculator::exports::baton::plugin::kpi;
#[cfg(not(feature = "contract-0-1-0"))]
use crate::{Attribute, InboundRequest, Needs, SignatureCheck, VendorReport};
use crate::{
    ConfigError, DeliveryOutcome, Event, HttpRequest, HttpResponse, Invocation, Membership, Message, Metric,
    PluginError, PluginInfo, Subject,
};

/// What every plugin provides, whatever its kind.
pub trait Plugin {
    /// Describes the plugin: name, version, kind and what it needs from the host.
    fn info() -> PluginInfo;

    /// Checks a binding configuration (JSON text). The default accepts any config.
    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// What a binding with this (validated) config reads: segment rules, KPI calculators and
    /// computed traits whose needs depend on their config narrow them here, so the host loads
    /// less. The default is everything `info()` declares.
    #[cfg(not(feature = "contract-0-1-0"))]
    fn needs_for_config(config: &str) -> Needs {
        let _ = config;
        Self::info().needs
    }
}

/// A segment rule: decides which profiles belong to an audience, many at a time.
pub trait SegmentRule: Plugin {
    /// Returns exactly one [`Membership`] per subject, in order.
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError>;
}

/// A personalizer: renders the message one profile receives.
pub trait Personalizer: Plugin {
    /// Renders `template` for `subject`; keep `recipient` and `idempotency_key` as given.
    fn personalize(
        invocation: Invocation,
        subject: Subject,
        template: Message,
    ) -> Result<Message, PluginError>;
}

/// A channel adapter: builds one vendor's requests and judges its responses. No I/O, no secrets:
/// write `{{secret:NAME}}` where a credential goes and the host substitutes it.
pub trait ChannelAdapter: Plugin {
    /// Builds the HTTP requests that send `message`.
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError>;

    /// Classifies the response to the request at `request_index`.
    fn classify(invocation: Invocation, request_index: u32, response: HttpResponse) -> DeliveryOutcome;

    /// How the vendor signs its webhooks, for a feedback endpoint with this config. The host
    /// checks the signature (with a secret this plugin never sees) before calling
    /// [`ChannelAdapter::feedback`]. The default takes no feedback.
    #[cfg(not(feature = "contract-0-1-0"))]
    fn verification(config: &str) -> Result<SignatureCheck, ConfigError> {
        let _ = config;
        Err(ConfigError::new("", "this adapter takes no vendor feedback"))
    }

    /// Turns one verified vendor webhook request into reports (deliveries, bounces, opens...).
    #[cfg(not(feature = "contract-0-1-0"))]
    fn feedback(invocation: Invocation, request: InboundRequest) -> Result<Vec<VendorReport>, PluginError> {
        let _ = (invocation, request);
        Ok(Vec::new())
    }
}

/// A computed trait: derives profile attributes (a lead score, a lifecycle stage) from events.
/// The host calls it as events arrive and in bulk, and stores what it returns with the profile.
#[cfg(not(feature = "contract-0-1-0"))]
pub trait ComputedTrait: Plugin {
    /// Returns exactly one list of traits per subject, in order; each trait among `provides`,
    /// `Value::Null` to remove one, and a trait left out keeps its value.
    fn compute(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Vec<Attribute>>, PluginError>;
}

/// A KPI calculator: streams a campaign's events through an [`Accumulator`].
pub trait KpiCalculator: Plugin + 'static {
    /// The running state of one computation.
    type Accumulator: Accumulator;

    /// Starts a computation for the campaign and config in `invocation`.
    fn open(invocation: Invocation) -> Result<Self::Accumulator, PluginError>;
}

/// The running state of a KPI computation. Keep it bounded: the host may stream millions of
/// events through one accumulator.
pub trait Accumulator: 'static {
    /// Adds a batch of events, oldest first.
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError>;

    /// Produces the metrics for everything added so far.
    fn finish(&mut self) -> Result<Vec<Metric>, PluginError>;
}

/// Adapts a [`KpiCalculator`]'s accumulator to the WIT resource, which is called through `&self`.
#[doc(hidden)]
pub struct AccumulatorCell<K: KpiCalculator>(RefCell<K::Accumulator>);

impl<K: KpiCalculator> kpi::GuestAccumulator for AccumulatorCell<K> {
    fn open(invocation: Invocation) -> Result<kpi::Accumulator, PluginError> {
        let state = K::open(invocation)?;
        Ok(kpi::Accumulator::new(AccumulatorCell::<K>(RefCell::new(state))))
    }

    fn add(&self, events: Vec<Event>) -> Result<(), PluginError> {
        self.0.borrow_mut().add(events)
    }

    fn finish(&self) -> Result<Vec<Metric>, PluginError> {
        self.0.borrow_mut().finish()
    }
}

/// The `info` and `validate-config` functions every kind's interface carries.
#[doc(hidden)]
#[macro_export]
macro_rules! __meta_fns {
    ($ty:ty) => {
        fn info() -> $crate::PluginInfo {
            <$ty as $crate::Plugin>::info()
        }
        fn validate_config(config: String) -> Result<(), $crate::ConfigError> {
            <$ty as $crate::Plugin>::validate_config(&config)
        }
    };
}

/// `needs-for-config`, which segment rules, KPI calculators and computed traits carry since 0.2.0.
#[cfg(not(feature = "contract-0-1-0"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __needs_fn {
    ($ty:ty) => {
        fn needs_for_config(config: String) -> $crate::Needs {
            <$ty as $crate::Plugin>::needs_for_config(&config)
        }
    };
}

/// Contract 0.1.0 has no `needs-for-config`.
#[cfg(feature = "contract-0-1-0")]
#[doc(hidden)]
#[macro_export]
macro_rules! __needs_fn {
    ($ty:ty) => {};
}

/// The feedback calls channel adapters carry since 0.2.0.
#[cfg(not(feature = "contract-0-1-0"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __feedback_fns {
    ($ty:ty) => {
        fn verification(config: String) -> Result<$crate::SignatureCheck, $crate::ConfigError> {
            <$ty as $crate::ChannelAdapter>::verification(&config)
        }
        fn feedback(
            invocation: $crate::Invocation,
            request: $crate::InboundRequest,
        ) -> Result<Vec<$crate::VendorReport>, $crate::PluginError> {
            <$ty as $crate::ChannelAdapter>::feedback(invocation, request)
        }
    };
}

/// Contract 0.1.0 has no feedback calls.
#[cfg(feature = "contract-0-1-0")]
#[doc(hidden)]
#[macro_export]
macro_rules! __feedback_fns {
    ($ty:ty) => {};
}

/// Exports a [`SegmentRule`] implementation as this component's segment-rule world.
#[macro_export]
macro_rules! segment_rule {
    ($ty:ident) => {
        const _: () = {
            impl $crate::__private::segment_rule::exports::baton::plugin::segmentation::Guest for $ty {
                $crate::__meta_fns!($ty);
                $crate::__needs_fn!($ty);
                fn evaluate(
                    invocation: $crate::Invocation,
                    subjects: Vec<$crate::Subject>,
                ) -> Result<Vec<$crate::Membership>, $crate::PluginError> {
                    <$ty as $crate::SegmentRule>::evaluate(invocation, subjects)
                }
            }
            // Component exports exist only in the Wasm build; natively the crate is a library
            // whose unit tests call the plugin's functions directly.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::segment_rule::__export_segment_rule!($ty);
        };
    };
}

/// Exports a [`Personalizer`] implementation as this component's personalizer world.
#[macro_export]
macro_rules! personalizer {
    ($ty:ident) => {
        const _: () = {
            impl $crate::__private::personalizer::exports::baton::plugin::personalization::Guest for $ty {
                $crate::__meta_fns!($ty);
                fn personalize(
                    invocation: $crate::Invocation,
                    subject: $crate::Subject,
                    template: $crate::Message,
                ) -> Result<$crate::Message, $crate::PluginError> {
                    <$ty as $crate::Personalizer>::personalize(invocation, subject, template)
                }
            }
            // Component exports exist only in the Wasm build; natively the crate is a library
            // whose unit tests call the plugin's functions directly.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::personalizer::__export_personalizer!($ty);
        };
    };
}

/// Exports a [`ChannelAdapter`] implementation as this component's channel-adapter world.
#[macro_export]
macro_rules! channel_adapter {
    ($ty:ident) => {
        const _: () = {
            impl $crate::__private::channel_adapter::exports::baton::plugin::channel::Guest for $ty {
                $crate::__meta_fns!($ty);
                $crate::__feedback_fns!($ty);
                fn build(
                    invocation: $crate::Invocation,
                    message: $crate::Message,
                ) -> Result<Vec<$crate::HttpRequest>, $crate::PluginError> {
                    <$ty as $crate::ChannelAdapter>::build(invocation, message)
                }
                fn classify(
                    invocation: $crate::Invocation,
                    request_index: u32,
                    response: $crate::HttpResponse,
                ) -> $crate::DeliveryOutcome {
                    <$ty as $crate::ChannelAdapter>::classify(invocation, request_index, response)
                }
            }
            // Component exports exist only in the Wasm build; natively the crate is a library
            // whose unit tests call the plugin's functions directly.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::channel_adapter::__export_channel_adapter!($ty);
        };
    };
}

/// Exports a [`KpiCalculator`] implementation as this component's kpi-calculator world.
#[macro_export]
macro_rules! kpi_calculator {
    ($ty:ident) => {
        const _: () = {
            impl $crate::__private::kpi_calculator::exports::baton::plugin::kpi::Guest for $ty {
                $crate::__meta_fns!($ty);
                $crate::__needs_fn!($ty);
                type Accumulator = $crate::__private::AccumulatorCell<$ty>;
            }
            // Component exports exist only in the Wasm build; natively the crate is a library
            // whose unit tests call the plugin's functions directly.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::kpi_calculator::__export_kpi_calculator!($ty);
        };
    };
}

/// Exports a [`ComputedTrait`] implementation as this component's computed-trait world.
#[cfg(not(feature = "contract-0-1-0"))]
#[macro_export]
macro_rules! computed_trait {
    ($ty:ident) => {
        const _: () = {
            impl $crate::__private::computed_trait::exports::baton::plugin::traits::Guest for $ty {
                $crate::__meta_fns!($ty);
                $crate::__needs_fn!($ty);
                fn compute(
                    invocation: $crate::Invocation,
                    subjects: Vec<$crate::Subject>,
                ) -> Result<Vec<Vec<$crate::Attribute>>, $crate::PluginError> {
                    <$ty as $crate::ComputedTrait>::compute(invocation, subjects)
                }
            }
            // Component exports exist only in the Wasm build; natively the crate is a library
            // whose unit tests call the plugin's functions directly.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::computed_trait::__export_computed_trait!($ty);
        };
    };
}
