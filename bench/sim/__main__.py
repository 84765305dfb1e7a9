from bench.sim.cli import main

raise SystemExit(main())
