from integration_orchestrator.cli import main

raise SystemExit(main())
