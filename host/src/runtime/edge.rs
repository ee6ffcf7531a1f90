//! The runtime's edge: what every contract version's module shares, written once.
//!
//! Each version module (`v0_1_0`, `v0_2_0`, `v0_3_0`) generates its own bindings from its own WIT. The
//! generated types have the same names and shapes wherever the versions agree, but they are
//! distinct Rust types in distinct modules, so the conversions to and from [`crate::contract`]
//! and the calls that use them are a macro expanded inside each version module. What differs
//! between versions (the kinds, `info`, the calls a version adds) each module writes itself.

/// Expands, inside a version module, the conversions between that version's generated types and
/// [`crate::contract`], and the calls every version has. The module must have in scope `types`,
/// `segmentation`, `personalization`, `channel` and `kpi` (its generated interfaces), the world
/// bindings `KpiCalculator`, and a `Pre` enum with `Segment`, `Personalizer`, `Channel` and `Kpi`
/// variants; for its other variants it provides `info_other` and `validate_config_other`,
/// `info_out` to convert its `plugin-info`, and `membership_out` its segment verdicts.
macro_rules! shared_edge {
    () => {
        use wasmtime::Store;
        use wasmtime::component::ResourceAny;

        use crate::contract as c;
        use crate::runtime::call::instantiated;
        use crate::runtime::sandbox::Sandbox;

        /// A call made on a plugin of another kind: the caller checks the kind first.
        fn wrong_world() -> wasmtime::Error {
            wasmtime::Error::msg("the plugin does not implement the world this call needs")
        }

        #[allow(dead_code)]
        fn value_out(v: types::Value) -> c::Value {
            match v {
                types::Value::Null => c::Value::Null,
                types::Value::Boolean(b) => c::Value::Boolean(b),
                types::Value::Integer(i) => c::Value::Integer(i),
                types::Value::Float(f) => c::Value::Float(f),
                types::Value::Text(t) => c::Value::Text(t),
                types::Value::Timestamp(t) => c::Value::Timestamp(t),
                types::Value::Json(j) => c::Value::Json(j),
            }
        }

        fn invocation(i: &c::Invocation) -> types::Invocation {
            types::Invocation {
                campaign_id: i.campaign_id.clone(),
                config: i.config.clone(),
                now: i.now,
                seed: i.seed,
            }
        }

        fn event(e: &c::Event) -> types::Event {
            event_owned(e.clone())
        }

        fn subject(s: &c::Subject) -> types::Subject {
            subject_owned(s.clone())
        }

        /// Moves a subject's strings into the generated type: the batch calls' hot path converts
        /// without copying a byte.
        fn subject_owned(s: c::Subject) -> types::Subject {
            types::Subject {
                profile_id: s.profile_id,
                attributes: s
                    .attributes
                    .into_iter()
                    .map(|a| types::Attribute { name: a.name, value: value_owned(a.value) })
                    .collect(),
                events: s.events.into_iter().map(event_owned).collect(),
                timezone: s.timezone,
                trigger: s.trigger.map(event_owned),
            }
        }

        fn value_owned(v: c::Value) -> types::Value {
            match v {
                c::Value::Null => types::Value::Null,
                c::Value::Boolean(b) => types::Value::Boolean(b),
                c::Value::Integer(i) => types::Value::Integer(i),
                c::Value::Float(f) => types::Value::Float(f),
                c::Value::Text(t) => types::Value::Text(t),
                c::Value::Timestamp(t) => types::Value::Timestamp(t),
                c::Value::Json(j) => types::Value::Json(j),
            }
        }

        fn event_owned(e: c::Event) -> types::Event {
            types::Event {
                id: e.id,
                profile_id: e.profile_id,
                name: e.name,
                timestamp: e.timestamp,
                properties: e.properties,
                campaign_id: e.campaign_id,
            }
        }

        fn message(m: &c::Message) -> types::Message {
            types::Message {
                channel: m.channel.clone(),
                recipient: m.recipient.clone(),
                subject: m.subject.clone(),
                body: m.body.clone(),
                html: m.html.clone(),
                variant_id: m.variant_id.clone(),
                data: m.data.clone(),
                idempotency_key: m.idempotency_key.clone(),
            }
        }

        fn message_out(m: types::Message) -> c::Message {
            c::Message {
                channel: m.channel,
                recipient: m.recipient,
                subject: m.subject,
                body: m.body,
                html: m.html,
                variant_id: m.variant_id,
                data: m.data,
                idempotency_key: m.idempotency_key,
            }
        }

        fn plugin_error(e: types::PluginError) -> c::PluginError {
            c::PluginError { code: e.code, message: e.message }
        }

        fn config_error(e: types::ConfigError) -> c::ConfigError {
            c::ConfigError { path: e.path, message: e.message }
        }

        fn needs_out(n: types::Needs) -> c::Needs {
            c::Needs {
                attributes: n.attributes,
                events: n.events,
                event_window: n.event_window,
                allowed_hosts: n.allowed_hosts,
                secrets: n.secrets,
            }
        }

        /// A guest's `result<T, plugin-error>` in Baton's types.
        fn guest<T, U>(
            r: Result<T, types::PluginError>,
            f: impl FnOnce(T) -> U,
        ) -> Result<U, c::PluginError> {
            r.map(f).map_err(plugin_error)
        }

        impl Pre {
            /// Calls `info()`.
            pub(in crate::runtime) fn info(
                &self,
                store: &mut Store<Sandbox>,
            ) -> wasmtime::Result<c::PluginInfo> {
                let info = match self {
                    Pre::Segment(p) => {
                        instantiated(p.instantiate(&mut *store))?.baton_plugin_segmentation().call_info(store)
                    }
                    Pre::Personalizer(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_personalization()
                        .call_info(store),
                    Pre::Channel(p) => {
                        instantiated(p.instantiate(&mut *store))?.baton_plugin_channel().call_info(store)
                    }
                    Pre::Kpi(p) => {
                        instantiated(p.instantiate(&mut *store))?.baton_plugin_kpi().call_info(store)
                    }
                    #[allow(unreachable_patterns)]
                    other => other.info_other(store),
                }?;
                Ok(info_out(info))
            }

            /// Calls `validate-config(config)`.
            pub(in crate::runtime) fn validate_config(
                &self,
                store: &mut Store<Sandbox>,
                config: &str,
            ) -> wasmtime::Result<Result<(), c::ConfigError>> {
                let answer = match self {
                    Pre::Segment(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_segmentation()
                        .call_validate_config(store, config),
                    Pre::Personalizer(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_personalization()
                        .call_validate_config(store, config),
                    Pre::Channel(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_channel()
                        .call_validate_config(store, config),
                    Pre::Kpi(p) => instantiated(p.instantiate(&mut *store))?
                        .baton_plugin_kpi()
                        .call_validate_config(store, config),
                    #[allow(unreachable_patterns)]
                    other => other.validate_config_other(store, config),
                }?;
                Ok(answer.map_err(config_error))
            }

            /// Calls a segment rule's `evaluate`.
            pub(in crate::runtime) fn evaluate(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                subjects: Vec<c::Subject>,
            ) -> wasmtime::Result<Result<Vec<c::Membership>, c::PluginError>> {
                let Pre::Segment(p) = self else { return Err(wrong_world()) };
                let subjects: Vec<types::Subject> = subjects.into_iter().map(subject_owned).collect();
                let answer = instantiated(p.instantiate(&mut *store))?
                    .baton_plugin_segmentation()
                    .call_evaluate(store, &invocation(call), &subjects)?;
                Ok(guest(answer, |list| list.into_iter().map(membership_out).collect()))
            }

            /// Calls a personalizer's `personalize`.
            pub(in crate::runtime) fn personalize(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                who: &c::Subject,
                template: &c::Message,
            ) -> wasmtime::Result<Result<c::Message, c::PluginError>> {
                let Pre::Personalizer(p) = self else { return Err(wrong_world()) };
                let answer = instantiated(p.instantiate(&mut *store))?
                    .baton_plugin_personalization()
                    .call_personalize(store, &invocation(call), &subject(who), &message(template))?;
                Ok(guest(answer, message_out))
            }

            /// Calls a channel adapter's `build`.
            pub(in crate::runtime) fn build(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                msg: &c::Message,
            ) -> wasmtime::Result<Result<Vec<c::HttpRequest>, c::PluginError>> {
                let Pre::Channel(p) = self else { return Err(wrong_world()) };
                let answer = instantiated(p.instantiate(&mut *store))?.baton_plugin_channel().call_build(
                    store,
                    &invocation(call),
                    &message(msg),
                )?;
                Ok(guest(answer, |list| {
                    list.into_iter()
                        .map(|r| c::HttpRequest {
                            method: r.method,
                            url: r.url,
                            headers: r.headers,
                            body: r.body,
                        })
                        .collect()
                }))
            }

            /// Calls a channel adapter's `classify`.
            pub(in crate::runtime) fn classify(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
                request_index: u32,
                response: &c::HttpResponse,
            ) -> wasmtime::Result<c::DeliveryOutcome> {
                let Pre::Channel(p) = self else { return Err(wrong_world()) };
                let response = channel::HttpResponse {
                    status: response.status,
                    headers: response.headers.clone(),
                    body: response.body.clone(),
                };
                let outcome = instantiated(p.instantiate(&mut *store))?
                    .baton_plugin_channel()
                    .call_classify(store, &invocation(call), request_index, &response)?;
                Ok(match outcome {
                    channel::DeliveryOutcome::Delivered(id) => c::DeliveryOutcome::Delivered(id),
                    channel::DeliveryOutcome::RetryAfter(ms) => c::DeliveryOutcome::RetryAfter(ms),
                    channel::DeliveryOutcome::Throttled(ms) => c::DeliveryOutcome::Throttled(ms),
                    channel::DeliveryOutcome::Rejected(why) => c::DeliveryOutcome::Rejected(why),
                })
            }

            /// Opens a KPI accumulator in a new instance kept for the whole computation.
            pub(in crate::runtime) fn open_kpi(
                &self,
                store: &mut Store<Sandbox>,
                call: &c::Invocation,
            ) -> wasmtime::Result<Result<(Kpi, ResourceAny), c::PluginError>> {
                let Pre::Kpi(p) = self else { return Err(wrong_world()) };
                let instance = instantiated(p.instantiate(&mut *store))?;
                let opened =
                    instance.baton_plugin_kpi().accumulator().call_open(&mut *store, &invocation(call))?;
                Ok(guest(opened, |accumulator| (Kpi(instance), accumulator)))
            }
        }

        /// A KPI calculator's instance, kept for one streamed computation.
        pub(in crate::runtime) struct Kpi(KpiCalculator);

        impl Kpi {
            /// Adds a batch of events to the accumulator.
            pub(in crate::runtime) fn add(
                &self,
                store: &mut Store<Sandbox>,
                accumulator: ResourceAny,
                events: &[c::Event],
            ) -> wasmtime::Result<Result<(), c::PluginError>> {
                let events: Vec<types::Event> = events.iter().map(event).collect();
                let answer = self.0.baton_plugin_kpi().accumulator().call_add(store, accumulator, &events)?;
                Ok(guest(answer, |()| ()))
            }

            /// Produces the accumulator's metrics.
            pub(in crate::runtime) fn finish(
                &self,
                store: &mut Store<Sandbox>,
                accumulator: ResourceAny,
            ) -> wasmtime::Result<Result<Vec<c::Metric>, c::PluginError>> {
                let answer = self.0.baton_plugin_kpi().accumulator().call_finish(store, accumulator)?;
                Ok(guest(answer, |metrics| {
                    metrics
                        .into_iter()
                        .map(|m| c::Metric {
                            name: m.name,
                            value: m.value,
                            unit: m.unit,
                            numerator: m.numerator,
                            denominator: m.denominator,
                            denominator_name: m.denominator_name,
                            dimensions: m.dimensions,
                        })
                        .collect()
                }))
            }
        }

        /// Links a component of this version's `kind` world.
        pub(in crate::runtime) fn link_kind(
            pre: wasmtime::component::InstancePre<Sandbox>,
            kind: c::PluginKind,
        ) -> wasmtime::Result<Pre> {
            Ok(match kind {
                c::PluginKind::SegmentRule => Pre::Segment(segment_rule::SegmentRulePre::new(pre)?),
                c::PluginKind::Personalizer => Pre::Personalizer(personalizer::PersonalizerPre::new(pre)?),
                c::PluginKind::ChannelAdapter => Pre::Channel(channel_adapter::ChannelAdapterPre::new(pre)?),
                c::PluginKind::KpiCalculator => Pre::Kpi(kpi_calculator::KpiCalculatorPre::new(pre)?),
                #[allow(unreachable_patterns)]
                other => link_other(pre, other)?,
            })
        }

        /// The host interface: logging, forwarded to the one implementation.
        impl host_api::Host for Sandbox {
            fn log(&mut self, level: host_api::LogLevel, message: String) -> wasmtime::Result<()> {
                let level = match level {
                    host_api::LogLevel::Trace => tracing::Level::TRACE,
                    host_api::LogLevel::Debug => tracing::Level::DEBUG,
                    host_api::LogLevel::Info => tracing::Level::INFO,
                    host_api::LogLevel::Warn => tracing::Level::WARN,
                    host_api::LogLevel::Error => tracing::Level::ERROR,
                };
                self.log(level, message)
            }
        }

        /// Adds this version's host interface to the linker.
        pub(in crate::runtime) fn add_host(
            linker: &mut wasmtime::component::Linker<Sandbox>,
        ) -> wasmtime::Result<()> {
            host_api::add_to_linker::<Sandbox, wasmtime::component::HasSelf<Sandbox>>(linker, |s| s)
        }
    };
}

pub(super) use shared_edge;

/// Generates, inside version module `$version` (its name under `crate::runtime`), the bindings of
/// the four worlds every contract has from the WIT at `$wit`, sharing one `types` and one `host`
/// module so a `subject` is one Rust type whichever world it goes to.
macro_rules! four_worlds {
    ($wit:literal, $version:ident) => {
        mod segment_rule {
            wasmtime::component::bindgen!({
                world: "segment-rule",
                path: $wit,
                // Host functions may stop the call (the log cap), which needs a trap, not a value.
                imports: { default: trappable },
            });
        }

        mod personalizer {
            wasmtime::component::bindgen!({
                world: "personalizer",
                path: $wit,
                with: {
                    "baton:plugin/types": crate::runtime::$version::segment_rule::baton::plugin::types,
                    "baton:plugin/host": crate::runtime::$version::segment_rule::baton::plugin::host,
                },
            });
        }

        mod channel_adapter {
            wasmtime::component::bindgen!({
                world: "channel-adapter",
                path: $wit,
                with: {
                    "baton:plugin/types": crate::runtime::$version::segment_rule::baton::plugin::types,
                    "baton:plugin/host": crate::runtime::$version::segment_rule::baton::plugin::host,
                },
            });
        }

        mod kpi_calculator {
            wasmtime::component::bindgen!({
                world: "kpi-calculator",
                path: $wit,
                with: {
                    "baton:plugin/types": crate::runtime::$version::segment_rule::baton::plugin::types,
                    "baton:plugin/host": crate::runtime::$version::segment_rule::baton::plugin::host,
                },
            });
        }

        use channel_adapter::exports::baton::plugin::channel;
        use kpi_calculator::KpiCalculator;
        use segment_rule::baton::plugin::host as host_api;
        use segment_rule::baton::plugin::types;
    };
}

pub(super) use four_worlds;
