"""Initial schema: Management API resources, DSP processes, EDRs, outbox, footprints, audit, replay.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connector.store.sqltypes import JsonDoc, JsonText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('body', JsonDoc, nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', JsonText, nullable=False),
    sa.Column('at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_kind'), 'audit_log', ['kind'], unique=False)
    op.create_table('contract_definitions',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('access_policy_id', sa.String(length=255), nullable=False),
    sa.Column('contract_policy_id', sa.String(length=255), nullable=False),
    sa.Column('body', JsonDoc, nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_definitions'))
    )
    op.create_index(op.f('ix_contract_definitions_access_policy_id'), 'contract_definitions', ['access_policy_id'], unique=False)
    op.create_index(op.f('ix_contract_definitions_contract_policy_id'), 'contract_definitions', ['contract_policy_id'], unique=False)
    op.create_table('contract_negotiations',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('consumer_pid', sa.String(length=255), nullable=True),
    sa.Column('provider_pid', sa.String(length=255), nullable=True),
    sa.Column('counter_party_id', sa.String(length=1024), nullable=False),
    sa.Column('counter_party_address', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('callback_addresses', JsonDoc, nullable=False),
    sa.Column('due_at', UtcDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('offer', JsonDoc, nullable=True),
    sa.Column('agreement_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_negotiations')),
    sa.UniqueConstraint('role', 'consumer_pid', name=op.f('uq_contract_negotiations_role_consumer_pid')),
    sa.UniqueConstraint('role', 'provider_pid', name=op.f('uq_contract_negotiations_role_provider_pid'))
    )
    op.create_index('ix_contract_negotiations_due_at', 'contract_negotiations', ['due_at'], unique=False)
    op.create_index('ix_contract_negotiations_state', 'contract_negotiations', ['state'], unique=False)
    op.create_table('edr_entries',
    sa.Column('transfer_id', sa.String(length=255), nullable=False),
    sa.Column('agreement_id', sa.String(length=255), nullable=False),
    sa.Column('token_id', sa.String(length=255), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('token', sa.Text(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('transfer_id', name=op.f('pk_edr_entries')),
    sa.UniqueConstraint('token_id', name=op.f('uq_edr_entries_token_id'))
    )
    op.create_index(op.f('ix_edr_entries_agreement_id'), 'edr_entries', ['agreement_id'], unique=False)
    op.create_table('footprints',
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('credential', JsonDoc, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('source_agreement_id', sa.String(length=255), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('direction', 'id', name=op.f('pk_footprints'))
    )
    op.create_index(op.f('ix_footprints_source_agreement_id'), 'footprints', ['source_agreement_id'], unique=False)
    op.create_table('outbox',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('process_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('target_url', sa.String(length=2048), nullable=False),
    sa.Column('payload', JsonDoc, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UtcDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox')),
    sa.UniqueConstraint('id', name=op.f('uq_outbox_id'))
    )
    op.create_index(op.f('ix_outbox_process_id'), 'outbox', ['process_id'], unique=False)
    op.create_index('ix_outbox_status_next_attempt_at', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_table('policy_definitions',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('body', JsonDoc, nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_definitions'))
    )
    op.create_table('replay_cache',
    sa.Column('jti', sa.String(length=512), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_replay_cache'))
    )
    op.create_index(op.f('ix_replay_cache_expires_at'), 'replay_cache', ['expires_at'], unique=False)
    op.create_table('transfer_processes',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('consumer_pid', sa.String(length=255), nullable=True),
    sa.Column('provider_pid', sa.String(length=255), nullable=True),
    sa.Column('counter_party_id', sa.String(length=1024), nullable=False),
    sa.Column('counter_party_address', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('callback_addresses', JsonDoc, nullable=False),
    sa.Column('due_at', UtcDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('agreement_id', sa.String(length=255), nullable=False),
    sa.Column('transfer_type', sa.String(length=255), nullable=False),
    sa.Column('data_address', JsonDoc, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_processes')),
    sa.UniqueConstraint('role', 'consumer_pid', name=op.f('uq_transfer_processes_role_consumer_pid')),
    sa.UniqueConstraint('role', 'provider_pid', name=op.f('uq_transfer_processes_role_provider_pid'))
    )
    op.create_index(op.f('ix_transfer_processes_agreement_id'), 'transfer_processes', ['agreement_id'], unique=False)
    op.create_index('ix_transfer_processes_due_at', 'transfer_processes', ['due_at'], unique=False)
    op.create_index('ix_transfer_processes_state', 'transfer_processes', ['state'], unique=False)
    op.create_table('contract_agreements',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('negotiation_id', sa.String(length=255), nullable=False),
    sa.Column('asset_id', sa.String(length=255), nullable=False),
    sa.Column('policy', JsonDoc, nullable=False),
    sa.Column('assigner', sa.String(length=1024), nullable=False),
    sa.Column('assignee', sa.String(length=1024), nullable=False),
    sa.Column('signed_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['negotiation_id'], ['contract_negotiations.id'], name=op.f('fk_contract_agreements_negotiation_id_contract_negotiations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_agreements'))
    )
    op.create_index(op.f('ix_contract_agreements_asset_id'), 'contract_agreements', ['asset_id'], unique=False)
    op.create_index(op.f('ix_contract_agreements_negotiation_id'), 'contract_agreements', ['negotiation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('contract_agreements')
    op.drop_table('transfer_processes')
    op.drop_table('replay_cache')
    op.drop_table('policy_definitions')
    op.drop_table('outbox')
    op.drop_table('footprints')
    op.drop_table('edr_entries')
    op.drop_table('contract_negotiations')
    op.drop_table('contract_definitions')
    op.drop_table('audit_log')
    op.drop_table('assets')
