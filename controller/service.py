"""The controller's composition root: its services built and wired; the ingest thread and event loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from controller.ack_publisher import AckPublisher
from controller.config import ControllerConfig
from controller.config_publisher import CommandKeys, ConfigPublisher
from controller.ingest import IngestLoop
from controller.leases import Leases
from controller.partition_manager import PartitionManager
from controller.partitions import STATE_FILTER
from controller.receiver import LinkSettings, ReceiverLink
from controller.store import AlertChange, Store
from hcc_common import sdnotify, wire

log = logging.getLogger("hcc.controller")

CHECKPOINT_EVERY_S = 5.0  # SQLite's log moved into the database file, off the ingest thread


def build_ingest(config: ControllerConfig, *, clock: Callable[[], float] = time.time) -> IngestLoop:
    """The ingest side, wired: the store, the MQTT link, and the services the loop drives
    (partitions, acks to boxes, config publishing, rollouts)."""
    store = Store(config.db)
    store.db.defer_checkpoints()  # serve() checkpoints from the event loop's side
    if config.partitions is not None:
        # births and wills of every center (to learn of new ones); the rest per center held
        subscriptions = STATE_FILTER
    elif config.share_group is not None:
        subscriptions = f"$share/{config.share_group}/{wire.SUBSCRIBE_ALL_AGENTS}"
    else:
        subscriptions = wire.SUBSCRIBE_ALL_AGENTS
    link = ReceiverLink(LinkSettings(
        config.broker, config.client_id, subscriptions=(subscriptions,),
        session_expiry_s=int(config.session_expiry_s),
        log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
        persistent=config.partitions is None,
    ))
    partitions = None
    if config.partitions is not None:
        partitions = PartitionManager(
            config.partitions, Leases(store.db, config.client_id, config.partitions), link)
    keys = CommandKeys(config)
    configs = ConfigPublisher(store, link.publish, keys,
                              serves=partitions.serve if partitions is not None else None)
    from controller.rollout_service import RolloutDriver

    # staged software rollouts: instructions to boxes, failures as alerts
    rollouts = RolloutDriver(store, config, keys, link.publish)
    acks = AckPublisher(link.publish) if config.acks else None
    return IngestLoop(config, store, link, partitions=partitions, acks=acks, configs=configs,
                      rollouts=rollouts, clock=clock)


def serve(config: ControllerConfig) -> None:
    """hcc-controller run: ingest on a thread; feed, notifications and HTTP on the event loop."""
    import asyncio
    import contextlib
    import signal
    from collections.abc import Iterator

    from controller import checklist, citizen
    from controller.alert_topic import AlertTopicPublisher
    from controller.feed import AlertFeed, StorePerThread
    from controller.notify import Notifier

    ingest_loop = build_ingest(config)
    stores = StorePerThread(config.db)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        feed = AlertFeed(stores)
        def wake(written: Sequence[AlertChange] = ()) -> None:
            loop.call_soon_threadsafe(feed.wake, written)

        ingest_loop.on_commit = wake
        notifier = Notifier(config.notify, stores,
                            config.http.public_url if config.http is not None else "",
                            center_names={c.id: c.name for c in config.centers}, wake=wake,
                            groups=config.auth.groups,
                            citizen_per_hour=config.citizen.notify_per_center_per_hour)
        feed.subscribers.append(notifier.on_change)
        feed.subscribers.append(AlertTopicPublisher(ingest_loop.link.publish).on_change)
        ingest = threading.Thread(target=ingest_loop.run, name="ingest", daemon=True)
        ingest.start()
        from controller.auth import accounts_upkeep
        from controller.reporting import upkeep_loop

        async def checkpoints() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECKPOINT_EVERY_S)
                try:
                    await asyncio.to_thread(lambda: stores.get().db.checkpoint())
                except Exception as exc:  # noqa: BLE001 - not stores.get(): it may fail too
                    log.warning("checkpoint failed", extra={"error": str(exc)[:300]})

        tasks = [asyncio.create_task(feed.run(stop)), asyncio.create_task(notifier.remind_loop(stop)),
                 asyncio.create_task(checkpoints()),
                 # history roll-up and retention; the monthly report mailed on the 1st
                 asyncio.create_task(upkeep_loop(stop, config, stores)),
                 # on-call escalation, and presses of the buttons in chats (Telegram)
                 asyncio.create_task(notifier.escalate_loop(stop)),
                 asyncio.create_task(notifier.listen_loops(stop)),
                 # sessions past their expiry, audit rows past their retention
                 asyncio.create_task(accounts_upkeep(stop, config.auth, stores)),
                 # the SMS to citizens who left a number, once their report is resolved
                 asyncio.create_task(citizen.reply_loop(stop, config, stores)),
                 # the staff's opening checklist not done by its hour: a warning to the desk
                 asyncio.create_task(checklist.not_done_loop(stop, config, stores))]
        server = None
        if config.http is not None:
            import uvicorn

            from controller.api import create_app

            app = create_app(config, stores, feed, counters=lambda: dict(vars(ingest_loop.counters)),
                             wake_feed=wake,
                             healthy=lambda: ingest.is_alive() and ingest_loop.ingest_healthy())

            class Server(uvicorn.Server):
                @contextlib.contextmanager
                def capture_signals(self) -> Iterator[None]:
                    yield  # our own handlers stop everything, the HTTP server included

            from controller.http_limits import server_config

            server = Server(server_config(
                app, host=config.http.listen_host, port=config.http.listen_port,
                log_level="warning", lifespan="off", access_log=False,
                ssl_certfile=config.http.tls_cert, ssl_keyfile=config.http.tls_key))
            tasks.append(asyncio.create_task(server.serve()))
            log.info("http listening", extra={"host": config.http.listen_host,
                                              "port": config.http.listen_port})
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # The ingest thread must be turning too, not only the event loop.
        tasks.append(asyncio.create_task(sdnotify.watchdog(
            stop, lambda: ingest.is_alive() and ingest_loop.ingest_healthy())))
        sdnotify.notify("READY=1\nSTATUS=ingesting")
        await stop.wait()
        sdnotify.notify("STOPPING=1")
        if server is not None:
            server.should_exit = True
        ingest_loop.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await notifier.close()
        await asyncio.to_thread(ingest.join, 30)

    asyncio.run(main())
