// For profile.mjs: exit normally on SIGTERM so `--cpu-prof` writes its profile
// (a process killed by the signal's default action writes nothing).
process.on('SIGTERM', () => process.exit(0));
