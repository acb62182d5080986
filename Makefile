.DEFAULT_GOAL := help
VENV := .venv/bin

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## Start all-in-one on SQLite with the demo data
	bash scripts/start.sh

test: ## Install everything and run lint, types and the tests on SQLite and PostgreSQL
	bash scripts/test.sh

lint: ## ruff and mypy only
	$(VENV)/ruff check . && $(VENV)/ruff format --check . && $(VENV)/mypy

format: ## Format the code
	$(VENV)/ruff format . && $(VENV)/ruff check --fix .

bench: ## Run the benchmarks (they print ratios)
	$(VENV)/python -m bench.import_rows

gateway: ## Print the nginx gateway config for distributed mode
	$(VENV)/chacra gateway-config
